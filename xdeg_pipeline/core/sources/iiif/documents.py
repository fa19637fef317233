"""IIIF JSON documents (collections, manifests, pages) read from a URL or a local file.

URLs go through the URL manifest's downloader (:func:`remote.transfer.fetch_document`: http(s)
only, redirects, deadline, size cap, retries with backoff). Each body is kept in ``folder`` with
its ``ETag``/``Last-Modified``; the next run asks with ``If-None-Match``/``If-Modified-Since``
and a 304 reuses the kept body, so an unchanged collection costs one small answer per document.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from xdeg_pipeline.core.sources.remote.errors import DownloadError
from xdeg_pipeline.core.sources.remote.fetch import LogFn, with_retries
from xdeg_pipeline.core.sources.remote.transfer import FetchOptions, fetch_document
from xdeg_pipeline.core.sources.remote.urls import url_key
from xdeg_pipeline.core.storage.atomic import write_bytes, write_text

ACCEPT = ('application/ld+json;profile="http://iiif.io/api/presentation/3/context.json", '
          "application/ld+json, application/json;q=0.9, */*;q=0.5")
INDEX = "documents.json"


class DocumentError(Exception):
    """A document that cannot be read: ``reason`` (``http_404``, ``invalid_json``...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def is_url(ref: str) -> bool:
    """``ref`` is an http(s) URL (else a file path)."""
    return urlsplit(ref).scheme.lower() in ("http", "https")


def resolve(ref: str, base: str | None) -> str:
    """``ref`` as a URL or an absolute file path, relative references resolved against the
    document ``base`` it was found in (a URL or a file)."""
    if is_url(ref) or base is None:
        return ref if is_url(ref) else str(Path(ref).expanduser().resolve())
    if is_url(base):
        return urljoin(base, ref)
    return str((Path(base).parent / ref).resolve())


class Documents:
    """Loads documents, with validators kept in ``folder`` (None: no cache, e.g. a sensor)."""

    def __init__(self, folder: Path | None, options: FetchOptions, *,
                 log: LogFn | None = None, cancel: threading.Event | None = None,
                 keep_bodies: bool = False) -> None:
        self.folder, self.options, self.log, self.cancel = folder, options, log, cancel
        self.keep_bodies = keep_bodies
        self.index: dict[str, dict] = self._read_index()
        self.lock = threading.Lock()
        self.fetched = self.not_modified = 0
        self.bodies: dict[str, bytes] = {}  # ref -> the bytes read (with keep_bodies)

    def _read_index(self) -> dict[str, dict]:
        if self.folder is None:
            return {}
        try:
            data = json.loads((self.folder / INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def load(self, ref: str) -> dict[str, Any]:
        """The JSON object at ``ref`` (a URL or a file). Raises :class:`DocumentError`."""
        raw = self._bytes(ref)
        if self.keep_bodies:
            with self.lock:
                self.bodies[ref] = raw
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise DocumentError("invalid_json", f"{exc} [{ref[:300]}]") from None
        if not isinstance(data, dict):
            raise DocumentError("not_iiif", f"a JSON {type(data).__name__}, not an object "
                                f"[{ref[:300]}]")
        return data

    def _bytes(self, ref: str) -> bytes:
        if not is_url(ref):
            try:
                return Path(ref).read_bytes()
            except OSError as exc:
                raise DocumentError("unreadable", f"{exc.strerror or exc} [{ref}]") from None
        try:
            key = url_key(ref)
        except DownloadError as exc:
            raise DocumentError(exc.reason, exc.detail) from None
        kept = self.index.get(key) if self.folder is not None else None
        body_file = self.folder / f"{key}.json" if self.folder is not None else None
        headers = {"Accept": ACCEPT}
        if kept and body_file is not None and body_file.is_file():
            if kept.get("etag"):
                headers["If-None-Match"] = kept["etag"]
            if kept.get("last_modified"):
                headers["If-Modified-Since"] = kept["last_modified"]
        try:
            doc, _ = with_retries(
                lambda: fetch_document(ref, self.options, headers, self.cancel), ref,
                self.options, cancel=self.cancel, log=self.log)
        except DownloadError as exc:
            raise DocumentError(exc.reason, f"{exc.detail} [{ref[:300]}]") from None
        if doc.body is None and body_file is not None and body_file.is_file():
            with self.lock:
                self.not_modified += 1
            return body_file.read_bytes()
        body = doc.body or b""
        with self.lock:
            self.fetched += 1
            if body_file is not None and (doc.etag or doc.last_modified):
                write_bytes(body, body_file)
                self.index[key] = {"url": ref, "etag": doc.etag,
                                   "last_modified": doc.last_modified}
        return body

    def save(self) -> None:
        """Write the validators' index (atomically)."""
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text(json.dumps(self.index, indent=1, sort_keys=True), self.folder / INDEX)
