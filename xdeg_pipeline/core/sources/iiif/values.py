"""Reading IIIF JSON tolerantly: ``@id``/``id`` and ``@type``/``type`` alike, one value or a
list, and text as v2 gives it (a string, ``{"@value", "@language"}``, a list of them) or as a v3
language map (``{"en": [...], "none": [...]}``), in the user's language when there is a choice.
"""

from __future__ import annotations

from typing import Any

NO_LANGUAGE = ("none", "@none", "")


def as_list(value: Any) -> list:
    """``value`` as a list: ``[]`` for None, itself for a list, else ``[value]``."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def ident(obj: Any) -> str | None:
    """The ``id`` (or ``@id``) of an object, or the object itself when it is a string."""
    if isinstance(obj, str):
        return obj.strip() or None
    if isinstance(obj, dict):
        value = obj.get("id", obj.get("@id"))
        if isinstance(value, str):
            return value.strip() or None
    return None


def kind(obj: Any) -> str:
    """The ``type``/``@type`` of an object, lower case, without its prefix (``sc:Manifest`` and
    ``Manifest`` are both ``manifest``); the first when it is a list."""
    if not isinstance(obj, dict):
        return ""
    for value in as_list(obj.get("type", obj.get("@type"))):
        if isinstance(value, str):
            return value.rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower()
    return ""


def _pick(options: list[tuple[str, str]], language: str) -> list[str]:
    """Texts in ``language`` (or its base: ``en`` for ``en-GB``), else without language, else
    in the first language given."""
    if not options:
        return []
    base = language.lower().split("-")[0]

    def of(match) -> list[str]:  # noqa: ANN001
        return [t for lang, t in options if match(lang)]

    for match in (lambda lang: lang == language.lower(),
                  lambda lang: lang.split("-")[0] == base,
                  lambda lang: lang in NO_LANGUAGE):
        found = of(match)
        if found:
            return found
    first = options[0][0]
    return of(lambda lang: lang == first)


def _options(value: Any) -> list[tuple[str, str]]:
    """(language, text) pairs of any IIIF text value."""
    out: list[tuple[str, str]] = []
    for item in as_list(value):
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            out.append(("", str(item)))
        elif isinstance(item, dict) and ("@value" in item or "value" in item):
            text = item.get("@value", item.get("value"))
            lang = item.get("@language", item.get("language", ""))
            out.extend((str(lang or "").lower(), t) for _, t in _options(text))
        elif isinstance(item, dict):  # a v3 language map
            for lang, texts in item.items():
                out.extend((str(lang).lower(), t) for _, t in _options(texts))
    return [(lang, t.strip()) for lang, t in out if t.strip()]


def text(value: Any, language: str = "en", sep: str = "; ") -> str:
    """The text of a IIIF value in ``language`` (several values joined with ``sep``); ``""``."""
    return sep.join(dict.fromkeys(_pick(_options(value), language)))


def first_link(value: Any) -> str | None:
    """The first ``http(s)`` URL of a value: a string, an object with an id, or a list."""
    for item in as_list(value):
        url = ident(item)
        if url and url.lower().startswith(("http://", "https://")):
            return url
    return None
