"""Collections as museums, libraries and archives publish them: IIIF (the International Image
Interoperability Framework). A source is a Presentation API manifest or collection (2.1 or 3.0,
nested to any depth, v2.1 paged), by URL or as a local file.

One image per canvas (or the first canvas of each manifest), fetched through the canvas's Image
API service at a bounded size (``!512,512``; a level 0 service: a listed size or the full image),
else the annotation body's own URL, by the URL manifest's downloader
(:mod:`xdeg_pipeline.core.sources.remote`: cache by URL, retries, failure memory, size cap,
atomic writes). Each image's metadata, as strings: ``label``, ``creator``, ``date``, ``credit``
(required statement / attribution, as given), ``rights``, ``link`` (homepage / related),
``manifest``, ``canvas``, ``collection`` (the labels of the collections above it) and
``metadata`` (JSON of the other label/value pairs).

Modules: :mod:`.values` (tolerant JSON: ids, types, language maps), :mod:`.images` (a canvas's
image URLs), :mod:`.documents` (JSON by URL or file, conditional GETs), :mod:`.reader` (the walk:
collections, pages, manifests, canvases), :mod:`.download` (through ``remote.download_all``),
:mod:`.signature` (a cheap fingerprint of the collections, for the sensor).
"""

from xdeg_pipeline.core.sources.iiif.documents import DocumentError, Documents
from xdeg_pipeline.core.sources.iiif.download import IIIFResult, download_iiif
from xdeg_pipeline.core.sources.iiif.images import CanvasImage, canvas_image, service_url
from xdeg_pipeline.core.sources.iiif.reader import METADATA_COLUMNS, Reader, Walk
from xdeg_pipeline.core.sources.iiif.signature import collection_signature
from xdeg_pipeline.core.sources.iiif.values import text

__all__ = [
    "METADATA_COLUMNS", "CanvasImage", "DocumentError", "Documents", "IIIFResult", "Reader",
    "Walk", "canvas_image", "collection_signature", "download_iiif", "service_url", "text",
]
