"""Walking a IIIF source (a manifest or a collection, Presentation 2.1 or 3.0) into one row per
canvas: where its image is, and what the object says of itself.

Collections nest to any depth (v2 ``collections``/``manifests``/``members``, v3 ``items``);
a v2.1 paged collection is followed from ``first`` through ``next``. Collections are read one
after another (their order names the images), then the manifests on ``workers`` threads. A
document that cannot be read, or a canvas that paints no image, is a problem row, never an
exception: only an unreadable top-level source raises.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from xdeg_pipeline.core.sources.iiif.documents import DocumentError, Documents, resolve
from xdeg_pipeline.core.sources.iiif.images import canvas_image
from xdeg_pipeline.core.sources.iiif.values import as_list, first_link, ident, kind, text

METADATA_COLUMNS: tuple[str, ...] = ("label", "creator", "date", "credit", "rights", "link",
                                     "manifest", "canvas", "collection", "metadata")
CREATOR_LABELS = frozenset({"creator", "artist", "author", "maker", "painter", "photographer",
                            "creator/contributor", "artist/maker", "contributor",
                            "contributor names", "contributors", "author(s)"})
DATE_LABELS = frozenset({"date", "dates", "year", "created", "date created", "creation date",
                         "date of creation", "created/published", "created published", "dated",
                         "production date", "publication date", "created / published",
                         "date statement"})
COLLECTION_KEYS = ("members", "collections", "manifests", "items")
MAX_PAGES = 100_000  # a paged collection's guard against a loop of ``next``


@dataclass
class Walk:
    """What a source holds: ``rows`` (one per canvas kept: ``id`` base name, ``url``,
    ``fallback`` + :data:`METADATA_COLUMNS`), ``problems`` (name, url, reason, detail),
    counts of the documents read."""

    rows: list[dict[str, str]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    collections: int = 0
    manifests: int = 0
    canvases: int = 0

    def problem(self, name: str, url: str, reason: str, detail: str) -> None:
        self.problems.append({"name": name, "url": url, "reason": reason, "detail": detail})


@dataclass(frozen=True)
class _Entry:
    """A manifest to read: a reference (URL or file) or the embedded object, and its place."""

    ref: str
    doc: dict | None
    path: tuple[str, ...]


def _looks_like_manifest(obj: dict) -> bool:
    return kind(obj) == "manifest" or "sequences" in obj or (
        kind(obj) != "collection" and any(kind(i) == "canvas" for i in as_list(obj.get("items"))))


def _looks_like_collection(obj: dict) -> bool:
    return kind(obj) == "collection" or (not _looks_like_manifest(obj) and any(
        k in obj for k in ("members", "collections", "manifests", "first")))


class Reader:
    """Reads one source; ``size``: the longest side asked of an Image API service;
    ``first_only``: one canvas per manifest; ``language``: of labels and values."""

    def __init__(self, docs: Documents, *, size: int = 512, first_only: bool = False,
                 language: str = "en", workers: int = 8) -> None:
        self.docs, self.size, self.first_only = docs, size, first_only
        self.language, self.workers = language, max(1, workers)

    def plan(self, source: str) -> tuple[Walk, list[_Entry]]:
        """The collections of ``source`` read, and the manifests they list (not yet read);
        raises :class:`DocumentError` when the source itself cannot be read."""
        walk = Walk()
        ref = resolve(source, None)
        top = self.docs.load(ref)
        entries: list[_Entry] = []
        if _looks_like_collection(top):
            self._collection(top, ref, (), walk, entries, set())
        else:
            entries.append(_Entry(ref, top, ()))
        return walk, entries

    def read(self, source: str) -> Walk:
        """Every canvas of ``source``; raises :class:`DocumentError` when it cannot be read."""
        walk, entries = self.plan(source)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="xdeg-iiif") as pool:
            for rows, problems in pool.map(self._manifest, entries):
                walk.rows.extend(rows)
                walk.problems.extend(problems)
                walk.manifests += 1
        walk.canvases = len(walk.rows) + sum(p["reason"] == "no_image" for p in walk.problems)
        return walk

    def _collection(self, doc: dict, ref: str, path: tuple[str, ...], walk: Walk,
                    entries: list[_Entry], seen: set[str]) -> None:
        """Add the manifests of a collection (and of its sub-collections, in order)."""
        key = ident(doc) or ref
        if key in seen:
            return
        seen.add(key)
        walk.collections += 1
        label = text(doc.get("label"), self.language)
        path = (*path, label) if label else path
        for child in self._members(doc, ref, walk):
            child_ref = resolve(ident(child) or "", ref) if ident(child) else ref
            embedded = isinstance(child, dict) and (
                _looks_like_manifest(child) and bool(child.get("sequences") or child.get("items"))
                or _looks_like_collection(child) and any(k in child for k in COLLECTION_KEYS))
            if isinstance(child, dict) and kind(child) == "manifest" and not embedded:
                entries.append(_Entry(child_ref, None, path))
                continue
            if embedded:
                loaded = child
            else:
                try:
                    loaded = self.docs.load(child_ref)
                except DocumentError as exc:
                    walk.problem(text(child.get("label") if isinstance(child, dict) else "",
                                      self.language) or child_ref, child_ref, exc.reason,
                                 exc.detail)
                    continue
            if _looks_like_collection(loaded):
                self._collection(loaded, child_ref, path, walk, entries, seen)
            else:
                entries.append(_Entry(child_ref, loaded, path))

    def _members(self, doc: dict, ref: str, walk: Walk) -> list[Any]:
        """The children of a collection, following v2.1 pages (``first``, ``next``)."""
        out = [c for k in COLLECTION_KEYS for c in as_list(doc.get(k))
               if isinstance(c, dict | str)]
        page: Any = doc.get("first")
        seen: set[str] = set()
        while page and len(seen) < MAX_PAGES:
            page_ref = resolve(ident(page) or "", ref) if ident(page) else ref
            if page_ref in seen:
                break
            seen.add(page_ref)
            if not (isinstance(page, dict) and any(k in page for k in COLLECTION_KEYS)):
                try:
                    page = self.docs.load(page_ref)
                except DocumentError as exc:
                    walk.problem(page_ref, page_ref, exc.reason, exc.detail)
                    break
            out.extend(c for k in COLLECTION_KEYS for c in as_list(page.get(k))
                       if isinstance(c, dict | str))
            page = page.get("next")
        return out

    def _manifest(self, entry: _Entry) -> tuple[list[dict], list[dict]]:
        """Rows and problems of one manifest (loaded here when only referenced); a manifest
        of a shape no reader expects is a problem too, never an exception."""
        try:
            doc = entry.doc if entry.doc is not None else self.docs.load(entry.ref)
            return self._rows(doc, entry)
        except DocumentError as exc:
            reason, detail = exc.reason, exc.detail
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            reason, detail = "not_iiif", f"{type(exc).__name__}: {exc} [{entry.ref[:300]}]"
        return [], [{"name": entry.ref, "url": entry.ref, "reason": reason, "detail": detail}]

    def _rows(self, doc: dict, entry: _Entry) -> tuple[list[dict], list[dict]]:
        uri = ident(doc) or entry.ref
        canvases = _canvases(doc)
        if not canvases:
            return [], [{"name": uri, "url": uri, "reason": "no_canvas",
                         "detail": f"manifest lists no canvas [{uri[:300]}]"}]
        common = self._describe(doc, uri, entry.path)
        chosen = canvases[:1] if self.first_only else canvases
        rows, problems = [], []
        for i, canvas in enumerate(chosen):
            canvas_id = ident(canvas) or f"{uri}#canvas{i + 1}"
            name = common["label"] or _tail(uri)
            if len(chosen) > 1:
                name = f"{name} - {text(canvas.get('label'), self.language) or i + 1}"
            image = canvas_image(canvas, self.size)
            if image is None:
                problems.append({"name": name, "url": canvas_id, "reason": "no_image",
                                 "detail": f"canvas {canvas_id} of manifest {uri} paints no "
                                 "image with a URL or an Image API service"})
                continue
            urls = image.urls
            rows.append({"id": name[:120], "url": urls[0],
                         "fallback": urls[1] if len(urls) > 1 else "",
                         **common, "canvas": canvas_id})
        return rows, problems

    def _describe(self, doc: dict, uri: str, path: tuple[str, ...]) -> dict[str, str]:
        """The manifest's label, creator, date, credit, rights, link and other metadata."""
        lang = self.language
        out = {"label": text(doc.get("label"), lang), "creator": "", "date": ""}
        rest: dict[str, str] = {}
        for pair in as_list(doc.get("metadata")):
            if not isinstance(pair, dict):
                continue
            label, value = text(pair.get("label"), lang), text(pair.get("value"), lang)
            norm = " ".join(label.lower().replace("_", " ").split())
            if not value:
                continue
            if norm in CREATOR_LABELS and not out["creator"]:
                out["creator"] = value
            elif norm in DATE_LABELS and not out["date"]:
                out["date"] = value
            elif label:
                rest[label] = value if label not in rest else f"{rest[label]}; {value}"
        statement = doc.get("requiredStatement")
        if isinstance(statement, dict):
            label, value = text(statement.get("label"), lang), text(statement.get("value"), lang)
            credit = f"{label}: {value}" if label and value else value
        else:
            credit = text(doc.get("attribution"), lang, sep=" ")
        rights = doc.get("rights", doc.get("license"))
        return {**out, "credit": credit,
                "rights": first_link(rights) or text(rights, lang),
                "link": first_link(doc.get("homepage")) or first_link(doc.get("related")) or "",
                "manifest": uri, "collection": " / ".join(path),
                "metadata": json.dumps(rest, ensure_ascii=False) if rest else ""}


def _canvases(doc: dict) -> list[dict]:
    """The canvases of a manifest: v3 ``items``, else the first v2 sequence's ``canvases``."""
    items = [c for c in as_list(doc.get("items")) if isinstance(c, dict)]
    if items:
        return items
    for sequence in as_list(doc.get("sequences")):
        if isinstance(sequence, dict):
            return [c for c in as_list(sequence.get("canvases")) if isinstance(c, dict)]
    return []


def _tail(uri: str) -> str:
    """A readable name from a manifest URI: its last segment that is not ``manifest(.json)``."""
    parts = [p for p in uri.split("?")[0].split("/") if p]
    for part in reversed(parts):
        if part.lower() not in ("manifest", "manifest.json", "iiif", "presentation"):
            return part.removesuffix(".json")
    return "manifest"
