"""A cheap fingerprint of a IIIF source for the sensor: the bytes of the source and of every
collection (and page) under it, and the manifests they list; manifests are not read."""

from __future__ import annotations

import hashlib

from xdeg_pipeline.core.sources.iiif.documents import Documents
from xdeg_pipeline.core.sources.iiif.reader import Reader
from xdeg_pipeline.core.sources.remote.transfer import FetchOptions
from xdeg_pipeline.core.storage.state import fingerprint_lines


def collection_signature(source: str, options: FetchOptions | None = None) -> tuple[str, int]:
    """(fingerprint, number of manifests listed) of ``source``; raises
    :class:`~xdeg_pipeline.core.sources.iiif.documents.DocumentError` when it cannot be read."""
    docs = Documents(None, options or FetchOptions(retries=1), keep_bodies=True)
    _, entries = Reader(docs).plan(source)
    lines = [f"{ref}\t{hashlib.sha256(body).hexdigest()}" for ref, body in docs.bodies.items()]
    lines += [entry.ref for entry in entries]
    return fingerprint_lines(sorted(lines)), len(entries)
