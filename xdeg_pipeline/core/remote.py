"""Collections that live on the web: a CSV/TSV manifest of image URLs (WikiArt Emotions, museum
open-access tables) downloaded into folders the caller names (the data folder's layout is
:class:`xdeg_pipeline.core.layout.Layout`'s business)::

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
* The first bytes must be a JPEG/PNG/GIF/WebP/BMP/TIFF signature (an HTML page served at an image
  URL is ``not_an_image`` at once), and the whole file must decode with
  :func:`xdeg_pipeline.core.images.load_rgb`.
* A file is written to a temporary name and renamed only once complete and decoded
  (:func:`xdeg_pipeline.core.atomic.atomic_path`): an interrupted or failed download leaves
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
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.client
import io
import json
import os
import random
import re
import shutil
import socket
import ssl
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.atomic import atomic_path, write_parquet, write_text
from xdeg_pipeline.core.images import ImageRejected, load_rgb

USER_AGENT = "xdeg-pipeline/0.1 (image collection downloader; python-urllib)"
URL_COLUMN_ALIASES: tuple[str, ...] = ("url", "image url", "image_url", "imageurl", "img_url")
ID_COLUMN_ALIASES: tuple[str, ...] = ("id",)
TITLE_COLUMNS: tuple[str, ...] = ("title", "object title", "artwork", "manifest_name")
ARTIST_COLUMNS: tuple[str, ...] = ("artist", "artist name", "artist_name", "creator", "author",
                                   "maker")
DISPLAY_FIRST: tuple[str, ...] = (*TITLE_COLUMNS, *ARTIST_COLUMNS, "year", "date", "style",
                                  "category", "genre", "medium", "id")
RESERVED_COLUMNS: frozenset[str] = frozenset({"name", "url", "local_path", "status", "bytes"})
CHUNK = 64 * 1024
MAX_RETRY_AFTER = 30.0
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "GIF": (".gif",),
    "WEBP": (".webp",),
    "BMP": (".bmp",),
    "TIFF": (".tif", ".tiff"),
}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)

REASONS: dict[str, str] = {
    "missing_url": "the URL cell is empty",
    "bad_scheme": "not an http(s) URL (ftp:, file:, data:, ... or a redirect to one)",
    "bad_url": "the URL cannot be parsed (no host, bad port, ...)",
    "http_<code>": "the server answered with this HTTP error status (5xx after the retries)",
    "timeout": "no answer within the socket timeout, or the transfer took over total_timeout",
    "connection_error": "refused, reset, DNS failure or closed before the end (after retries)",
    "ssl_error": "TLS handshake or certificate verification failed",
    "protocol_error": "the server's answer is not valid HTTP",
    "too_many_redirects": "more than max_redirects redirects in one attempt (e.g. a loop)",
    "bad_redirect": "a redirect status without a Location header",
    "too_large": "Content-Length or the streamed body over max_bytes",
    "not_an_image": "the bytes are not a JPEG/PNG/GIF/WebP/BMP/TIFF (e.g. an HTML page)",
    "empty": "the server sent no body",
    "truncated/corrupt/...": "image bytes that do not decode (reasons of core.images)",
}

ProgressFn = Callable[[int, int], None]
LogFn = Callable[[str], None]


# --------------------------------------------------------------------------- manifest table


def _decode_text(raw: bytes) -> str:
    """UTF-8, else cp1252, else latin-1 (a UTF-8 byte-order mark is dropped in every case)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _sniff_delimiter(path: Path, text: str) -> str:
    """Tab for ``.tsv``/``.tab``; else the most frequent of tab, comma, semicolon, pipe in the
    header line (ties in that order); comma for a one-column file."""
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    header = text.split("\n", 1)[0]
    counts = [(header.count(sep), -i, sep) for i, sep in enumerate(("\t", ",", ";", "|"))]
    best = max(counts)
    return best[2] if best[0] > 0 else ","


def _unquote_tsv(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('""', '"')
    return value


def load_manifest_table(path: Path) -> pd.DataFrame:
    """Read a CSV or TSV manifest (delimiter sniffed) as strings; empty cells are ``""``.

    UTF-8 (with or without BOM) is tried first, then cp1252. A TSV is read without quote
    processing (a stray ``"`` in a title cannot swallow rows); a cell wholly wrapped in double
    quotes is unwrapped.
    """
    path = Path(path)
    text = _decode_text(path.read_bytes())
    if not text.strip():
        raise ValueError(f"manifest {path} is empty")
    sep = _sniff_delimiter(path, text)
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, quoting=quoting,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"manifest {path} cannot be read as a table: {exc}") from None
    df.columns = [_unquote_tsv(str(c).strip()) if sep == "\t" else str(c).strip()
                  for c in df.columns]
    if sep == "\t":
        df = df.apply(lambda col: col.map(_unquote_tsv))
    return df.fillna("")


def _norm_column(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def find_url_column(df: pd.DataFrame, preferred: str | None = None) -> str:
    """The column holding the image URLs: ``preferred`` (exact, then case-insensitive), else
    ``url`` / ``Image URL`` / ``image_url``... (any case). Raises ``KeyError`` with the columns."""
    columns = [str(c) for c in df.columns]
    if preferred:
        if preferred in columns:
            return preferred
        folded = [c for c in columns if c.casefold() == preferred.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise KeyError(f"URL column {preferred!r} not in the manifest; columns: {columns}")
    for alias in URL_COLUMN_ALIASES:
        hits = [c for c in columns if _norm_column(c) == _norm_column(alias)]
        if hits:
            return hits[0]
    raise KeyError(
        f"no URL column found (looked for 'url' or 'Image URL', any case); columns: {columns}. "
        "Name it with XDEG_URL_COLUMN or the resource's url_column."
    )


def _find_column(df: pd.DataFrame, aliases: Iterable[str]) -> str | None:
    by_norm = {_norm_column(str(c)): str(c) for c in reversed(list(df.columns))}
    for alias in aliases:
        if _norm_column(alias) in by_norm:
            return by_norm[_norm_column(alias)]
    return None


# --------------------------------------------------------------------------- names


_IMAGE_SUFFIXES = frozenset(s for exts in EXTENSIONS.values() for s in exts)


def safe_file_name(text: str, fallback: str = "image", max_bytes: int = 150) -> str:
    """``text`` as one file name: no ``/``, ``\\``, control characters or leading dots."""
    text = unicodedata.normalize("NFC", str(text)).strip()
    out = "".join(
        "_" if ch in "/\\" or unicodedata.category(ch) in ("Cc", "Cs", "Cf") else ch
        for ch in text
    )
    out = out.lstrip(". ").rstrip()
    while len(out.encode("utf-8")) > max_bytes:
        stem, suffix = os.path.splitext(out)
        out = (stem[:-1] + suffix) if len(stem) > 1 else out[:-1]
    return out or fallback


def url_name(url: str) -> str:
    """The last non-empty segment of a URL's path, percent-decoded (else the host)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return "image"
    segments = [s for s in parts.path.split("/") if s]
    if segments:
        return urllib.parse.unquote(segments[-1])
    return parts.hostname or "image"


def _with_suffix_number(name: str, n: int) -> str:
    stem, suffix = os.path.splitext(name)
    if suffix.lower() in _IMAGE_SUFFIXES:
        return f"{stem}_{n}{suffix}"
    return f"{name}_{n}"


def dedupe_names(names: Iterable[str]) -> list[str]:
    """Make names unique (case-insensitively) in order: the first keeps its name, later ones
    get ``_2``, ``_3``... before an image extension."""
    taken: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = _with_suffix_number(name, n)
        taken.add(candidate.casefold())
        out.append(candidate)
    return out


def name_with_format(base: str, fmt: str) -> str:
    """``base`` if its extension fits the image format, else ``base`` + the format's extension."""
    exts = EXTENSIONS.get(fmt, (".img",))
    if os.path.splitext(base)[1].lower() in exts:
        return base
    return base + exts[0]


# --------------------------------------------------------------------------- one download


class DownloadError(Exception):
    """A URL that could not be turned into a cached image; ``reason`` from :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = "", *, retry: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail
        self.retry = retry
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


class Cancelled(Exception):
    """The download was cancelled (``cancel`` event set)."""


@dataclass(frozen=True)
class Fetched:
    """A URL now in the cache."""

    path: Path
    bytes: int
    format: str
    attempts: int
    cached: bool


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Make 3xx answers raise ``HTTPError``: redirects are followed by :func:`_attempt`."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirect())


def normalise_url(url: str) -> str:
    """A fetchable form of ``url``: http(s) only, IDNA host, spaces and non-ASCII quoted.

    Raises :class:`DownloadError` (``missing_url``, ``bad_scheme``, ``bad_url``)."""
    url = str(url).strip()
    if not url:
        raise DownloadError("missing_url", "empty URL cell")
    try:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise DownloadError("bad_scheme", f"scheme {scheme or '(none)'!r} in {url[:200]!r}")
        host = parts.hostname
        if not host:
            raise DownloadError("bad_url", f"no host in {url[:200]!r}")
        port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise DownloadError("bad_url", f"{exc} in {url[:200]!r}") from None
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise DownloadError("bad_url", f"host {host!r} is not a valid name") from None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    safe = "!#$%&'()*+,/:;=?@[]~"
    path = urllib.parse.quote(parts.path or "/", safe=safe)
    query = urllib.parse.quote(parts.query, safe=safe)
    return urllib.parse.urlunsplit((scheme, netloc, path, query, ""))


def url_key(url: str) -> str:
    """The cache key of a URL: sha256 hex of its normalised form."""
    return hashlib.sha256(normalise_url(url).encode("utf-8")).hexdigest()


def sniff_format(head: bytes) -> str | None:
    """The image format from a file's first bytes, or None."""
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _retry_after(headers) -> float | None:  # noqa: ANN001
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return min(float(value), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:
        return None


def _classify(exc: BaseException) -> DownloadError:
    """Map a network exception to a download error (with retry or not)."""
    if isinstance(exc, DownloadError):
        return exc
    inner = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    text = f"{type(inner).__name__}: {inner}"
    if isinstance(inner, TimeoutError | socket.timeout):
        return DownloadError("timeout", text, retry=True)
    if isinstance(inner, ssl.SSLError | ssl.CertificateError):
        return DownloadError("ssl_error", text)
    if isinstance(inner, http.client.IncompleteRead | ConnectionError | socket.gaierror):
        return DownloadError("connection_error", text, retry=True)
    if isinstance(inner, http.client.InvalidURL | ValueError):
        return DownloadError("bad_url", text)
    if isinstance(inner, http.client.HTTPException):
        return DownloadError("protocol_error", text)
    if isinstance(inner, OSError):
        return DownloadError("connection_error", text, retry=True)
    return DownloadError("connection_error", text)


@dataclass
class _Limits:
    timeout: float
    total_timeout: float
    max_bytes: int
    max_redirects: int
    cancel: threading.Event | None
    validate_side: int = 64


def _check(deadline: float, limits: _Limits, url: str) -> None:
    if limits.cancel is not None and limits.cancel.is_set():
        raise Cancelled(url)
    if time.monotonic() > deadline:
        raise DownloadError("timeout", f"transfer took over {limits.total_timeout:g} s",
                            retry=True)


def _open(url: str, limits: _Limits, deadline: float):  # noqa: ANN202
    """Open ``url``, following up to ``max_redirects`` redirects; return the 2xx response."""
    opener = _opener()
    current = url
    for _ in range(limits.max_redirects + 1):
        _check(deadline, limits, url)
        request = urllib.request.Request(
            current, headers={"User-Agent": USER_AGENT, "Accept": "image/*,*/*;q=0.5"}
        )
        try:
            return opener.open(request, timeout=limits.timeout)
        except urllib.error.HTTPError as exc:
            code, headers = exc.code, exc.headers
            exc.close()
            if code in REDIRECT_CODES:
                location = headers.get("Location") if headers is not None else None
                if not location:
                    raise DownloadError("bad_redirect", f"HTTP {code} without Location") from None
                current = normalise_url(urllib.parse.urljoin(current, location))
                continue
            retry = code >= 500 or code in (408, 429)
            raise DownloadError(f"http_{code}", f"HTTP {code} {exc.reason}", retry=retry,
                                retry_after=_retry_after(headers)) from None
        except DownloadError:
            raise
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            raise _classify(exc) from None
    raise DownloadError("too_many_redirects",
                        f"more than {limits.max_redirects} redirects (last: {current[:200]})")


def _read_head(response, deadline: float, limits: _Limits, url: str) -> bytes:  # noqa: ANN001
    head = b""
    while len(head) < 16:
        _check(deadline, limits, url)
        chunk = response.read1(CHUNK)
        if not chunk:
            break
        head += chunk
    return head


def _attempt(url: str, key: str, folder: Path, limits: _Limits) -> tuple[Path, int, str]:
    """One try: open (with redirects), check type and size, stream to a temporary file,
    decode, rename. Returns (path, bytes, format)."""
    deadline = time.monotonic() + limits.total_timeout
    response = _open(url, limits, deadline)
    try:
        with response:
            length_header = response.headers.get("Content-Length")
            try:
                declared = int(length_header) if length_header is not None else None
            except ValueError:
                declared = None
            if declared is not None and declared > limits.max_bytes:
                raise DownloadError("too_large", f"Content-Length {declared} > "
                                    f"{limits.max_bytes} bytes (not downloaded)")
            ctype = response.headers.get("Content-Type", "") or "(none)"
            head = _read_head(response, deadline, limits, url)
            if not head:
                raise DownloadError("empty", f"no body (Content-Type {ctype})")
            fmt = sniff_format(head)
            if fmt is None:
                raise DownloadError("not_an_image",
                                    f"Content-Type {ctype}, starts with {head[:24]!r}")
            target = folder / f"{key}{EXTENSIONS[fmt][0]}"
            with atomic_path(target) as tmp:
                total = len(head)
                with open(tmp, "wb") as fh:
                    fh.write(head)
                    while True:
                        _check(deadline, limits, url)
                        chunk = response.read1(CHUNK)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > limits.max_bytes:
                            raise DownloadError("too_large", f"body passed {limits.max_bytes} "
                                                "bytes (reading stopped)")
                        fh.write(chunk)
                if declared is not None and total < declared:
                    raise DownloadError("connection_error", f"connection closed after {total} of "
                                        f"{declared} bytes", retry=True)
                try:
                    load_rgb(tmp, limits.validate_side)
                except ImageRejected as exc:
                    raise DownloadError(exc.reason, exc.detail) from None
            return target, total, fmt
    except (DownloadError, Cancelled):
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _classify(exc) from None


def fetch_url(
    url: str,
    folder: Path,
    *,
    timeout: float = 20.0,
    total_timeout: float = 120.0,
    max_bytes: int = 50 * 2**20,
    retries: int = 3,
    backoff: float = 0.5,
    max_redirects: int = 5,
    cancel: threading.Event | None = None,
    log: LogFn | None = None,
    cached: dict[str, Path] | None = None,
) -> Fetched:
    """Download one URL into ``folder`` as ``<sha256(url)>.<ext>`` (or find it there).

    Raises :class:`DownloadError` after the retries, :class:`Cancelled` when ``cancel`` is set.
    """
    normal = normalise_url(url)
    key = hashlib.sha256(normal.encode("utf-8")).hexdigest()
    known = cached.get(key) if cached is not None else _cached_files(folder).get(key)
    if known is not None:
        fmt = next((f for f, exts in EXTENSIONS.items() if known.suffix in exts), "?")
        return Fetched(known, known.stat().st_size, fmt, 0, True)
    limits = _Limits(timeout, total_timeout, max_bytes, max_redirects, cancel)
    folder.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        attempt += 1
        try:
            path, size, fmt = _attempt(normal, key, folder, limits)
            return Fetched(path, size, fmt, attempt, False)
        except DownloadError as exc:
            if not exc.retry or attempt > retries:
                if attempt > 1:
                    exc.detail = f"{exc.detail} (after {attempt} attempts)"
                raise
            delay = backoff * 2 ** (attempt - 1) * (1 + 0.25 * random.random())
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            if log is not None:
                log(f"retry {attempt}/{retries} in {delay:.1f} s for {url[:120]}: {exc}")
            if cancel is not None:
                if cancel.wait(delay):
                    raise Cancelled(url) from None
            else:
                time.sleep(delay)


def _cached_files(folder: Path) -> dict[str, Path]:
    """Cache key -> file, for every complete file of the cache folder."""
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    for entry in os.scandir(folder):
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        stem, suffix = os.path.splitext(entry.name)
        if suffix in _IMAGE_SUFFIXES and len(stem) == 64:
            out[stem] = Path(entry.path)
    return out


def clean_partial_files(folder: Path) -> int:
    """Remove temporaries left by a killed download (``.<name>.<random>.tmp``); their count."""
    removed = 0
    if not folder.is_dir():
        return 0
    for entry in os.scandir(folder):
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
    return removed


# --------------------------------------------------------------------------- many downloads


@dataclass
class DownloadResult:
    """Outcome of :func:`download_all`."""

    rows: pd.DataFrame  # name, url, local_path, status, bytes + the manifest's columns
    rejected: pd.DataFrame  # name, url, reason, detail
    metadata_columns: list[str] = field(default_factory=list)  # manifest columns kept in rows
    downloaded: int = 0  # URLs fetched in this call
    cached: int = 0  # URLs found in the cache (no request)
    failed: int = 0  # URLs that failed
    bytes_downloaded: int = 0
    seconds: float = 0.0

    @property
    def metadata(self) -> pd.DataFrame:
        """name + manifest columns (the ``image_metadata.parquet`` table)."""
        return self.rows[["name", *self.metadata_columns]].reset_index(drop=True)


def _metadata_names(columns: Iterable[str], url_column: str) -> dict[str, str]:
    """Manifest column -> its name in the rows table (reserved names get ``manifest_``)."""
    out: dict[str, str] = {}
    for col in columns:
        if col in RESERVED_COLUMNS and col != url_column:
            out[col] = f"manifest_{col}"
        elif col == url_column and col in RESERVED_COLUMNS:
            continue  # 'url' is already a column of the rows
        else:
            out[col] = col
    return out


def base_names(df: pd.DataFrame, url_column: str) -> list[str]:
    """One unique, file-name-safe base name per row (``id`` column, else the URL's end)."""
    id_col = _find_column(df, ID_COLUMN_ALIASES)
    names = []
    for i, url in enumerate(df[url_column].astype(str)):
        raw = str(df[id_col].iat[i]).strip() if id_col is not None else ""
        names.append(safe_file_name(raw or url_name(url) if (raw or url.strip()) else f"row{i}"))
    return dedupe_names(names)


def _load_failures(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def download_all(
    df: pd.DataFrame,
    url_column: str,
    cache: Path,
    failures_file: Path,
    *,
    workers: int = 8,
    timeout: float = 20.0,
    total_timeout: float = 120.0,
    max_bytes: int = 50 * 2**20,
    retries: int = 3,
    backoff: float = 0.5,
    max_redirects: int = 5,
    retry_failed_after: float = 24 * 3600.0,
    progress: ProgressFn | None = None,
    log: LogFn | None = None,
    cancel: threading.Event | None = None,
) -> DownloadResult:
    """Download every row's URL into ``cache`` (see the module docstring for the rules);
    URLs that failed for good are remembered in ``failures_file`` (JSON).

    Each distinct URL is fetched once, on ``workers`` threads; cached URLs are not requested.
    ``progress(done, total)`` runs on the calling thread, over distinct URLs. A failed URL is a
    row of ``rejected``, never an exception. An exception in the caller's thread (Ctrl-C) sets
    ``cancel``: downloads stop at their next chunk and leave no file behind.
    """
    t0 = time.perf_counter()
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    clean_partial_files(cache)
    cancel = cancel or threading.Event()
    if url_column not in df.columns:
        raise KeyError(f"URL column {url_column!r} not in the manifest")
    df = df.reset_index(drop=True)
    urls = [str(u).strip() for u in df[url_column]]
    bases = base_names(df, url_column)
    cached_files = _cached_files(cache)

    outcome: dict[str, Fetched | DownloadError] = {}
    todo: list[str] = []
    for url in dict.fromkeys(urls):
        try:
            normalise_url(url)
        except DownloadError as exc:
            outcome[url] = exc
            continue
        todo.append(url)
    total = len(outcome) + len(todo)
    done = len(outcome)
    kwargs = dict(timeout=timeout, total_timeout=total_timeout, max_bytes=max_bytes,
                  retries=retries, backoff=backoff, max_redirects=max_redirects,
                  cancel=cancel, log=log, cached=cached_files)
    failures_file = Path(failures_file)
    failures = _load_failures(failures_file)
    now = time.time()
    remembered = 0
    still_todo = []
    for url in todo:
        key = url_key(url)
        old = failures.get(key)
        if (
            key not in cached_files
            and isinstance(old, dict)
            and now - float(old.get("time", 0)) < retry_failed_after
        ):
            outcome[url] = DownloadError(
                str(old.get("reason", "connection_error")),
                f"{old.get('detail', '')} (remembered from an earlier run; tried again after "
                f"{retry_failed_after / 3600:g} h or when {failures_file.name} is deleted)",
            )
            remembered += 1
            done += 1
        else:
            still_todo.append(url)
    todo = still_todo
    fresh = [u for u in todo if url_key(u) not in cached_files]
    if log is not None:
        log(f"download: {len(urls)} rows, {total} distinct URLs, "
            f"{len(todo) - len(fresh)} cached, {len(fresh)} to fetch, "
            f"{len(outcome) - remembered} invalid, {remembered} failed before (not retried)")
    if progress is not None:
        progress(done, total)

    def run(url: str) -> Fetched | DownloadError:
        try:
            return fetch_url(url, cache, **kwargs)
        except DownloadError as exc:
            return exc
        except Cancelled:
            raise
        except Exception as exc:  # one bad URL never stops the run
            return DownloadError("connection_error", f"{type(exc).__name__}: {exc}", retry=True)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="xdeg-download")
    try:
        futures = {pool.submit(run, url): url for url in todo}
        for future in as_completed(futures):
            outcome[futures[future]] = future.result()
            done += 1
            if progress is not None:
                progress(done, total)
    except BaseException:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    changed = False
    for url in todo:  # remember permanent failures; forget URLs that now work or may work
        key, result = url_key(url), outcome[url]
        if isinstance(result, DownloadError) and not result.retry:
            failures[key] = {"reason": result.reason, "detail": result.detail, "time": now}
            changed = True
        elif key in failures:
            del failures[key]
            changed = True
    if changed:
        write_text(json.dumps(failures, indent=1, sort_keys=True), failures_file)

    meta_names = _metadata_names([str(c) for c in df.columns], url_column)
    rows, rejected = [], []
    for i, url in enumerate(urls):
        result = outcome[url]
        if isinstance(result, DownloadError):
            rejected.append({"name": bases[i], "url": url, "reason": result.reason,
                             "detail": f"{result.detail} [{url[:300]}]"})
            continue
        row = {"name": name_with_format(bases[i], result.format), "url": url,
               "local_path": str(result.path), "status": "cached" if result.cached
               else "downloaded", "bytes": int(result.bytes)}
        for col, new in meta_names.items():
            row[new] = str(df[col].iat[i])
        rows.append(row)
    columns = ["name", "url", "local_path", "status", "bytes", *meta_names.values()]
    rows_df = pd.DataFrame(rows, columns=columns)
    rows_df["name"] = dedupe_names(rows_df["name"].tolist())
    fetched = [r for r in outcome.values() if isinstance(r, Fetched)]
    return DownloadResult(
        rows=rows_df,
        rejected=pd.DataFrame(rejected, columns=["name", "url", "reason", "detail"]),
        metadata_columns=list(meta_names.values()),
        downloaded=sum(not f.cached for f in fetched),
        cached=sum(f.cached for f in fetched),
        failed=sum(isinstance(r, DownloadError) for r in outcome.values()),
        bytes_downloaded=sum(f.bytes for f in fetched if not f.cached),
        seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- the collection


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except FileNotFoundError:
        return False
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    return sa.st_size == sb.st_size and sa.st_mtime_ns == sb.st_mtime_ns


def _place(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` as a hard link (a copy where links are refused), atomically."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)


def sync_collection(files: dict[str, Path], folder: Path) -> Path:
    """Make ``folder`` hold exactly ``name -> file`` (hard links or copies); returns ``folder``.

    Entries that no longer belong are removed; unchanged ones are not touched (their mtime stays,
    so the scan reuses its previous rows).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(folder):
        if entry.name not in files:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
    for name, source in files.items():
        target = folder / name
        if os.path.islink(target) or not _same_file(source, target):
            _place(Path(source), target)
    return folder


def write_metadata(metadata: pd.DataFrame, path: Path) -> Path:
    """Write the metadata table (``image_metadata.parquet``: name + the manifest's columns, all
    as strings) to ``path``, atomically."""
    return write_parquet(metadata.astype(str), Path(path))


def read_metadata(path: Path, names: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
    """name -> {column: value} from the metadata table at ``path`` (non-empty values only;
    ``{}`` when there is no such file)."""
    path = Path(path)
    if not path.exists():
        return {}
    df = pd.read_parquet(path)
    if "name" not in df.columns:
        return {}
    wanted = set(names) if names is not None else None
    cols = [c for c in df.columns if c != "name"]
    out: dict[str, dict[str, str]] = {}
    for record in df.to_dict("records"):
        name = str(record["name"])
        if wanted is not None and name not in wanted:
            continue
        out[name] = {c: str(record[c]) for c in cols
                     if record[c] is not None and str(record[c]).strip() not in ("", "nan")}
    return out


def _lookup(meta: dict[str, str], aliases: Iterable[str]) -> str | None:
    by_norm = {_norm_column(k): v for k, v in meta.items()}
    for alias in aliases:
        value = by_norm.get(_norm_column(alias))
        if value:
            return value.strip()
    return None


def caption(meta: dict[str, str]) -> str | None:
    """The picture's caption from its metadata: ``title — artist``, or either alone."""
    title, artist = _lookup(meta, TITLE_COLUMNS), _lookup(meta, ARTIST_COLUMNS)
    if title and artist:
        return f"{title} — {artist}"
    return title or artist


def display_meta(meta: dict[str, str], limit: int = 12) -> dict[str, str]:
    """Up to ``limit`` metadata entries for a page: title, artist, year, style... first, then
    the others in manifest order."""
    first = {_norm_column(a): i for i, a in enumerate(DISPLAY_FIRST)}
    keys = sorted(meta, key=lambda k: first.get(_norm_column(k), len(first)))
    return {k: meta[k] for k in keys[:limit]}
