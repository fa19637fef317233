"""Where an image comes from: its label, creator, date, credit line, rights, object page and
manifest, read from the metadata its source recorded (``image_metadata.parquet``: a IIIF
manifest's fields, a CSV manifest's columns).

One record per image, the same keys everywhere a chain is shown (``xdeg path --json``, the
explorer's API, the HTML page, the strips); ``None`` where the source did not say. Text is
plain text (HTML in an attribution is reduced to its text), links are ``http``/``https`` only.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from html.parser import HTMLParser
from urllib.parse import urlsplit

Record = dict[str, str | None]

PROVENANCE_KEYS: tuple[str, ...] = (
    "label", "creator", "date", "credit", "rights", "link", "manifest",
)
# metadata columns (or IIIF metadata labels) that say each key, best first (compared by norm_key)
ALIASES: dict[str, tuple[str, ...]] = {
    "label": ("label", "title", "object title", "artwork", "manifest name", "name"),
    "creator": ("creator", "artist", "artist name", "author", "maker", "painter",
                "photographer"),
    "date": ("date", "year", "created", "date created", "dated", "period"),
    "credit": ("credit", "credit line", "attribution", "required statement",
               "requiredstatement", "courtesy"),
    "rights": ("rights", "license", "licence", "rights statement", "copyright"),
    "link": ("link", "homepage", "object page", "object url", "web page", "related"),
    "manifest": ("manifest", "iiif manifest", "manifest url", "manifest uri"),
}
LINK_KEYS = frozenset({"rights", "link", "manifest"})
METADATA_COLUMN = "metadata"  # a IIIF manifest's label/value pairs, as JSON
# columns that say where an image sits in its source, not what it shows
SOURCE_COLUMNS: tuple[str, ...] = ("canvas", "collection", METADATA_COLUMN)
_LICENCES = {  # a licence URI's path (after creativecommons.org/) -> its short name
    "publicdomain/zero": "CC0", "publicdomain/mark": "Public Domain Mark",
}


def norm_key(name: str) -> str:
    """A column name compared loosely: lower case, runs of spaces, ``_`` and ``-`` as one space."""
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


def alias_key(column: str) -> str | None:
    """The provenance key a column (or IIIF metadata label) says, if any."""
    norm = norm_key(column)
    return next((k for k in PROVENANCE_KEYS if norm in ALIASES[k]), None)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.skip += tag in ("script", "style")
        if tag in ("br", "p", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def plain_text(value: str) -> str:
    """Text of a value that may hold HTML (IIIF allows a few tags in attributions): tags, scripts
    and styles dropped, entities decoded (an escaped ``&lt;script&gt;`` becomes the text
    ``<script>``, shown as such), white space collapsed."""
    if "<" in value or "&" in value:
        parser = _Text()
        parser.feed(value)
        parser.close()
        value = html.unescape("".join(parser.parts))
    return re.sub(r"\s+", " ", value).strip()


def web_link(value: str | None) -> str | None:
    """``value`` when it is an absolute ``http``/``https`` URL (no white space or controls),
    else None."""
    if not value:
        return None
    value = value.strip()
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _flat(value: object) -> str:
    """A IIIF value as text: a string, a list (joined), a language map (its first language)."""
    if isinstance(value, Mapping):
        value = value.get("none") or value.get("en") or next(iter(value.values()), "")
    if isinstance(value, list):
        return "; ".join(_flat(v) for v in value if v not in (None, ""))
    return "" if value is None else str(value)


def metadata_pairs(value: str | None) -> Iterator[tuple[str, str]]:
    """The (label, value) pairs of a ``metadata`` JSON column, read tolerantly: a list of
    ``{"label", "value"}`` (IIIF, language maps allowed) or of pairs, or one object."""
    try:
        data = json.loads(value) if value else None
    except (TypeError, ValueError):
        return
    items = data.items() if isinstance(data, Mapping) else data if isinstance(data, list) else ()
    for item in items:
        if isinstance(item, Mapping):
            label, text = _flat(item.get("label")), _flat(item.get("value"))
        elif isinstance(item, list | tuple) and len(item) == 2:
            label, text = _flat(item[0]), _flat(item[1])
        else:
            continue
        if label.strip() and text.strip():
            yield plain_text(label), text


def provenance(meta: Mapping[str, str]) -> Record:
    """The provenance record of one image from its metadata (``{column: value}``); the pairs
    of a ``metadata`` JSON column fill what the columns do not say."""
    by_key = {norm_key(k): v for k, v in meta.items()
              if v is not None and str(v).strip() and norm_key(k) != METADATA_COLUMN}
    for label, text in metadata_pairs(meta.get(METADATA_COLUMN)):
        by_key.setdefault(norm_key(label), text)
    record: Record = {}
    for key in PROVENANCE_KEYS:
        value = next((by_key[a] for a in ALIASES[key] if a in by_key), None)
        text = plain_text(str(value)) if value is not None else ""
        if key in LINK_KEYS:
            # a licence may be a URI (linked) or a phrase ("CC BY 4.0"): keep phrases as text
            record[key] = web_link(text) or (text if key == "rights" and text else None)
        else:
            record[key] = text or None
    return record


def empty_record(label: str | None = None, **known: str | None) -> Record:
    """A record that knows only ``label`` (and ``known`` keys): folder collections, OpenMoji."""
    record: Record = dict.fromkeys(PROVENANCE_KEYS)
    record.update({k: v for k, v in known.items() if k in record})
    record["label"] = label
    return record


def rights_label(rights: str | None) -> str | None:
    """A short name for a rights value: ``CC BY 4.0`` for a Creative Commons licence URI,
    ``InC`` for a rightsstatements.org one, the phrase itself otherwise."""
    if not rights:
        return None
    parts = urlsplit(rights) if web_link(rights) else None
    if parts is None:
        return rights
    path = [p for p in parts.path.split("/") if p]
    host = (parts.hostname or "").removeprefix("www.")
    if host == "creativecommons.org" and len(path) >= 2:
        version = path[2] if len(path) > 2 and path[2][:1].isdigit() else ""
        name = _LICENCES.get("/".join(path[:2])) or (
            "CC " + path[1].upper() if path[0] == "licenses" else None)
        if name:
            return f"{name} {version}".strip()
    if host == "rightsstatements.org" and len(path) >= 2 and path[0] == "vocab":
        return path[1]
    return rights


def credit_text(record: Mapping[str, str | None] | None, known: str | None = None) -> str:
    """``credit (rights)`` of one record, leaving out what ``known`` (the collection's
    attribution, shown anyway) already says; ``""`` when nothing is left."""
    if not record:
        return ""
    parts = [record.get("credit"), rights_label(record.get("rights"))]
    parts = [p for p in parts if p and not (known and p in known)]
    if len(parts) == 2:
        return f"{parts[0]} ({parts[1]})"
    return parts[0] if parts else ""


def credits_line(records: Sequence[Mapping[str, str | None] | None],
                 known: str | None = None) -> str | None:
    """One short line crediting the images of a chain, in order: ``1 Label — credit (rights);
    2 ...`` (``All images: credit`` when they share one), None when none has a credit."""
    texts = [credit_text(r, known) for r in records]
    if not any(texts):
        return None
    if len(texts) > 1 and len(set(texts)) == 1:
        return f"Credits: all images: {texts[0]}"
    entries = []
    for i, (record, text) in enumerate(zip(records, texts), 1):
        if text:
            label = (record or {}).get("label")
            entries.append(f"{i} {label} — {text}" if label else f"{i} {text}")
    return "Credits: " + "; ".join(entries)
