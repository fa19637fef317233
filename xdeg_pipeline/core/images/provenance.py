"""Where an image comes from: its label, creator, date, credit line, rights, object page and
manifest, read from the metadata its source recorded (``image_metadata.parquet``: a IIIF
manifest's fields, a CSV manifest's columns).

One record per image, the same keys everywhere a chain is shown (``xdeg path --json``, the
explorer's API, the HTML page, the strips); ``None`` where the source did not say. Text is
plain text (HTML in an attribution is reduced to its text), links are ``http``/``https`` only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from urllib.parse import urlsplit

PROVENANCE_KEYS: tuple[str, ...] = (
    "label", "creator", "date", "credit", "rights", "link", "manifest",
)
# metadata columns that say each key, best first (compared by norm_key)
ALIASES: dict[str, tuple[str, ...]] = {
    "label": ("label", "title", "object title", "artwork", "manifest name", "name"),
    "creator": ("creator", "artist", "artist name", "author", "maker"),
    "date": ("date", "year", "created", "date created"),
    "credit": ("credit", "credit line", "attribution", "required statement"),
    "rights": ("rights", "license", "licence"),
    "link": ("link", "homepage", "object page", "object url", "related"),
    "manifest": ("manifest", "iiif manifest", "manifest url"),
}
LINK_KEYS = frozenset({"rights", "link", "manifest"})


def norm_key(name: str) -> str:
    """A column name compared loosely: lower case, runs of spaces, ``_`` and ``-`` as one space."""
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


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
    """Text of a value that may hold HTML (IIIF allows a few tags in attributions): tags and
    scripts dropped, entities decoded, white space collapsed."""
    if "<" in value or "&" in value:
        parser = _Text()
        parser.feed(value)
        parser.close()
        value = html.unescape("".join(parser.parts))
    return re.sub(r"\s+", " ", value).strip()


def web_link(value: str | None) -> str | None:
    """``value`` when it is an absolute ``http``/``https`` URL, else None."""
    if not value:
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def provenance(meta: Mapping[str, str]) -> dict[str, str | None]:
    """The provenance record of one image from its metadata (``{column: value}``)."""
    by_key = {norm_key(k): v for k, v in meta.items() if v is not None}
    record: dict[str, str | None] = {}
    for key in PROVENANCE_KEYS:
        value = next((by_key[a] for a in ALIASES[key] if str(by_key.get(a, "")).strip()), None)
        if value is None:
            record[key] = None
        elif key in LINK_KEYS:
            # a licence may be a URI (linked) or a phrase ("CC BY 4.0"): keep phrases as text
            text = plain_text(str(value))
            record[key] = web_link(text) or (text if key == "rights" else None)
        else:
            record[key] = plain_text(str(value)) or None
    return record
