"""Collections that live on the web: a CSV/TSV manifest of image URLs (WikiArt Emotions, museum
open-access tables) downloaded into folders the caller names (the data folder's layout is
:class:`xdeg_pipeline.core.storage.layout.Layout`'s business)::

    <cache>/<sha256(url)>.<ext>   one file per URL, extension from the bytes (not the URL)
    <failures_file>               URLs that failed for good (JSON)
    <collection>/<name>           the collection: hard links (or copies) named after rows
    <metadata table>              name + every column of the manifest (as strings)

Choices:

* Only ``http`` and ``https`` URLs are fetched (``bad_scheme`` otherwise, also for redirects).
* Downloads run on ``workers`` threads. Each attempt has a socket ``timeout`` (connect and every
  read) and a ``total_timeout`` for the whole transfer (a server that drips bytes is cut off).
* 5xx, 408, 429, timeouts and connection errors are retried ``retries`` times with exponential
  backoff (``Retry-After`` honoured, capped); other 4xx are not retried.
* Redirects are followed by hand, at most ``max_redirects`` per attempt.
* Size: a ``Content-Length`` over ``max_bytes`` is refused before reading the body; otherwise the
  body is streamed and reading stops as soon as it passes ``max_bytes`` (``too_large``).
* The first bytes must carry a signature of :mod:`xdeg_pipeline.core.images.formats` (an HTML
  page served at an image URL is ``not_an_image`` at once), and the whole file must decode with
  :func:`xdeg_pipeline.core.images.scan.load_rgb`.
* A file is written to a temporary name and renamed only once complete and decoded
  (:func:`xdeg_pipeline.core.storage.atomic.atomic_path`): an interrupted or failed download leaves
  nothing at the cache name. Left-over temporaries of a killed process are removed by the next
  :func:`download_all` on that folder.
* The cache is keyed by URL: a URL with a cached file is never requested again (delete the file
  to fetch it anew). A URL that failed for good (HTTP 4xx, not an image, too large, undecodable,
  a redirect loop) is remembered in ``failures_file`` and not requested again for
  ``retry_failed_after`` seconds (24 h); transient failures (timeouts, connection errors, HTTP
  5xx/408/429) are tried again on every run.
* Image names: the manifest's ``id`` column (any case) when present and non-empty, else the last
  segment of the URL path; made file-name safe, de-duplicated in row order (``_2``, ``_3``...),
  and given the extension of the bytes when they lack it.

Modules: :mod:`.manifest` (reading the table, its URL and id columns), :mod:`.names`,
:mod:`.urls` (normalising, cache keys), :mod:`.errors` (reasons), :mod:`.transfer` (one HTTP
attempt: redirects, limits, streaming), :mod:`.fetch` (one URL: cache or retries),
:mod:`.cache`, :mod:`.failures` (remembered permanent failures), :mod:`.download` (a whole
manifest on threads), :mod:`.collection` (placing files), :mod:`.metadata` (table, captions).
"""

from xdeg_pipeline.core.sources.remote.collection import sync_collection
from xdeg_pipeline.core.sources.remote.download import DownloadResult, download_all
from xdeg_pipeline.core.sources.remote.errors import REASONS, Cancelled, DownloadError
from xdeg_pipeline.core.sources.remote.fetch import fetch_url
from xdeg_pipeline.core.sources.remote.manifest import find_url_column, load_manifest_table
from xdeg_pipeline.core.sources.remote.metadata import (
    caption,
    display_meta,
    read_metadata,
    write_metadata,
)
from xdeg_pipeline.core.sources.remote.names import base_names, dedupe_names, name_with_format
from xdeg_pipeline.core.sources.remote.transfer import FetchOptions
from xdeg_pipeline.core.sources.remote.urls import normalise_url, url_key

__all__ = [
    "REASONS", "Cancelled", "DownloadError", "DownloadResult", "FetchOptions", "base_names",
    "caption", "dedupe_names", "display_meta", "download_all", "fetch_url", "find_url_column",
    "load_manifest_table", "name_with_format", "normalise_url", "read_metadata",
    "sync_collection", "url_key", "write_metadata",
]
