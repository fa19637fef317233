"""Resolve what a user typed (a name, a file name, a stem) to one image name of the collection.

Order, stopping at the first rule that matches anything:

1. the exact relative name (after dropping ``./`` and doubled slashes);
2. the relative name without its extension (``animals/cat`` for ``animals/cat.png``);
3. the trailing part of the name, whole components, with extension (``cat.png``,
   ``more/oak.png``);
4. the same without extension: the file-name stem (``cat``) or a trailing path (``more/oak``).

Rules 2-4 are tried case-sensitively, then case-insensitively. One match wins; several raise
:class:`AmbiguousName`; none raises :class:`NameNotFound` with up to five close matches.
Absolute paths and ``..`` components raise :class:`NameOutsideCollection`.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Callable, Container, Sequence

MAX_SUGGESTIONS = 5


class NameNotFound(LookupError):
    """No image has this name; ``suggestions`` holds the closest names."""

    def __init__(self, query: str, suggestions: list[str]) -> None:
        self.query = query
        self.suggestions = suggestions
        hint = (
            "; closest: " + ", ".join(repr(s) for s in suggestions)
            if suggestions
            else "; no similar name"
        )
        super().__init__(f"no image named {query!r} in the collection{hint}")


class AmbiguousName(LookupError):
    """Several images match; ``candidates`` lists them (give the relative name instead)."""

    def __init__(self, query: str, candidates: list[str]) -> None:
        self.query = query
        self.candidates = candidates
        shown = ", ".join(repr(c) for c in candidates[:10])
        more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
        super().__init__(
            f"{query!r} matches {len(candidates)} images: {shown}{more}; "
            "give the relative name to choose one"
        )


class NameOutsideCollection(ValueError):
    """The query is an absolute path or climbs out with ``..``."""

    def __init__(self, query: str) -> None:
        self.query = query
        super().__init__(
            f"{query!r} is not a name inside the collection "
            "(absolute paths and '..' are refused; use the name relative to the image folder)"
        )


def _check_inside(query: str) -> str:
    """Refuse absolute paths and '..'; return the query without './' and doubled slashes."""
    drive = len(query) >= 2 and query[0].isalpha() and query[1] == ":"
    home = query == "~" or query.startswith("~/")
    if query.startswith(("/", "\\")) or home or (drive and query[2:3] in ("", "/", "\\")):
        raise NameOutsideCollection(query)
    parts = query.replace("\\", "/").split("/")
    if ".." in parts:
        raise NameOutsideCollection(query)
    return "/".join(p for p in query.split("/") if p not in ("", "."))


def _stem(name: str) -> str:
    return posixpath.splitext(name)[0]


def _same(name: str, query: str) -> bool:
    return _stem(name) == query


def _tail(name: str, query: str) -> bool:
    return name.endswith("/" + query)


def _stem_tail(name: str, query: str) -> bool:
    return _stem(name).endswith("/" + query)


_RULES: tuple[Callable[[str, str], bool], ...] = (_same, _tail, _stem_tail)


def _suggest(query: str, names: list[str], cutoff: float = 0.5) -> list[str]:
    """Up to MAX_SUGGESTIONS names closest to the query, compared without extensions, on the
    file name (or on the whole relative name when the query has a folder part)."""
    whole = "/" in query
    by_key: dict[str, list[str]] = {}
    for name in names:
        key = _stem(name if whole else posixpath.basename(name)).lower()
        by_key.setdefault(key, []).append(name)
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(_stem(query).lower())  # difflib caches details about the second sequence
    scored: list[tuple[float, str]] = []
    for key in by_key:
        matcher.set_seq1(key)
        if (
            matcher.real_quick_ratio() >= cutoff
            and matcher.quick_ratio() >= cutoff
            and (score := matcher.ratio()) >= cutoff
        ):
            scored.extend((score, name) for name in by_key[key])
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [name for _, name in scored[:MAX_SUGGESTIONS]]


def resolve_name(query: str, names: Sequence[str], known: Container[str] | None = None) -> str:
    """The one collection name meant by ``query`` (see the module docstring for the rules).

    ``known``: the same names as a set or dict the caller keeps, so that an exact name (rule 1,
    what the explorer and the jobs send) resolves in constant time, not in a pass over every
    name (at a million images that pass took about 0.3 s per name).
    """
    if known is None:
        known = {str(n) for n in names}
    if query in known:
        return query
    cleaned = _check_inside(query)
    if cleaned in known:
        return cleaned
    all_names = [str(n) for n in names]
    if cleaned:
        for rule in _RULES:
            for fold in (False, True):
                target = cleaned.lower() if fold else cleaned
                hits = sorted(n for n in all_names if rule(n.lower() if fold else n, target))
                if len(hits) == 1:
                    return hits[0]
                if hits:
                    raise AmbiguousName(query, hits)
    raise NameNotFound(query, _suggest(cleaned or query, all_names))
