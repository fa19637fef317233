"""One HTTP attempt at one URL: follow redirects by hand, refuse what is too large or not an
image from the first bytes, stream the body to a temporary file under a deadline, decode it,
and only then give it its cache name."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from xdeg_pipeline.core.images.decode import ImageRejected, load_rgb
from xdeg_pipeline.core.images.formats import EXTENSIONS, SNIFF_BYTES, sniff_format
from xdeg_pipeline.core.sources.remote.errors import (
    Cancelled,
    DownloadError,
    classify_network_error,
)
from xdeg_pipeline.core.sources.remote.urls import normalise_url
from xdeg_pipeline.core.storage.atomic import atomic_path

USER_AGENT = "xdeg-pipeline/0.1 (image collection downloader; python-urllib)"
CHUNK = 64 * 1024
MAX_RETRY_AFTER = 30.0
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
VALIDATE_SIDE = 64  # decode size that proves a downloaded file is a whole image


@dataclass(frozen=True)
class FetchOptions:
    """Limits of one URL's download: socket ``timeout`` (s, connect and every read),
    ``total_timeout`` (s, one attempt), ``max_bytes``, ``retries`` of a transient failure with
    exponential ``backoff`` (s), ``max_redirects`` per attempt."""

    timeout: float = 20.0
    total_timeout: float = 120.0
    max_bytes: int = 50 * 2**20
    retries: int = 3
    backoff: float = 0.5
    max_redirects: int = 5


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Make 3xx answers raise ``HTTPError``: redirects are followed by :func:`_open`."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


def _retry_after(headers) -> float | None:  # noqa: ANN001
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return min(float(value), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:
        return None


class _Clock:
    """The deadline of one attempt, and the cancel flag: checked before every read."""

    def __init__(self, url: str, options: FetchOptions, cancel: threading.Event | None) -> None:
        self.url, self.options, self.cancel = url, options, cancel
        self.deadline = time.monotonic() + options.total_timeout

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(self.url)
        if time.monotonic() > self.deadline:
            raise DownloadError("timeout", f"transfer took over {self.options.total_timeout:g} s",
                                retry=True)


def _open(url: str, clock: _Clock, headers: dict[str, str] | None = None):  # noqa: ANN202
    """Open ``url``, following up to ``max_redirects`` redirects; return the 2xx response.
    ``headers`` are added to the request (e.g. ``Accept``, ``If-None-Match``)."""
    opener = urllib.request.build_opener(_NoRedirect())
    current = url
    for _ in range(clock.options.max_redirects + 1):
        clock.check()
        request = urllib.request.Request(
            current, headers={"User-Agent": USER_AGENT, "Accept": "image/*,*/*;q=0.5",
                              **(headers or {})}
        )
        try:
            return opener.open(request, timeout=clock.options.timeout)
        except urllib.error.HTTPError as exc:
            code, answer = exc.code, exc.headers
            exc.close()
            if code in REDIRECT_CODES:
                location = answer.get("Location") if answer is not None else None
                if not location:
                    raise DownloadError("bad_redirect", f"HTTP {code} without Location") from None
                current = normalise_url(urllib.parse.urljoin(current, location))
                continue
            retry = code >= 500 or code in (408, 429)
            raise DownloadError(f"http_{code}", f"HTTP {code} {exc.reason}", retry=retry,
                                retry_after=_retry_after(answer)) from None
        except DownloadError:
            raise
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            raise classify_network_error(exc) from None
    raise DownloadError("too_many_redirects", f"more than {clock.options.max_redirects} "
                        f"redirects (last: {current[:200]})")


def _checked_length(response, options: FetchOptions) -> int | None:
    """The declared ``Content-Length``; a body declared over ``options.max_bytes`` is refused
    before it is read."""
    declared = _declared_length(response)
    if declared is not None and declared > options.max_bytes:
        raise DownloadError("too_large", f"Content-Length {declared} > "
                            f"{options.max_bytes} bytes (not downloaded)")
    return declared


def _declared_length(response) -> int | None:  # noqa: ANN001
    """The ``Content-Length`` header as a number (None when absent or not a number)."""
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _read_head(response, clock: _Clock) -> bytes:  # noqa: ANN001
    head = b""
    while len(head) < SNIFF_BYTES:
        clock.check()
        chunk = response.read1(CHUNK)
        if not chunk:
            break
        head += chunk
    return head


def _stream(response, head: bytes, tmp: Path, clock: _Clock) -> int:  # noqa: ANN001
    """Write ``head`` and the rest of the body to ``tmp``, stopping past ``max_bytes``."""
    limit = clock.options.max_bytes
    total = len(head)
    with open(tmp, "wb") as fh:
        fh.write(head)
        while True:
            clock.check()
            chunk = response.read1(CHUNK)
            if not chunk:
                return total
            total += len(chunk)
            if total > limit:
                raise DownloadError("too_large", f"body passed {limit} bytes (reading stopped)")
            fh.write(chunk)


def attempt(url: str, key: str, folder: Path, options: FetchOptions,
            cancel: threading.Event | None = None) -> tuple[Path, int, str]:
    """One try at the normalised ``url``: (cache file ``folder/<key>.<ext>``, bytes, format).
    Raises :class:`DownloadError` (``retry`` set when another try may pass) or
    :class:`Cancelled`; a failed try leaves no file."""
    clock = _Clock(url, options, cancel)
    response = _open(url, clock)
    try:
        with response:
            declared = _checked_length(response, options)
            ctype = response.headers.get("Content-Type", "") or "(none)"
            head = _read_head(response, clock)
            if not head:
                raise DownloadError("empty", f"no body (Content-Type {ctype})")
            fmt = sniff_format(head)
            if fmt is None:
                raise DownloadError("not_an_image",
                                    f"Content-Type {ctype}, starts with {head[:24]!r}")
            target = folder / f"{key}{EXTENSIONS[fmt][0]}"
            with atomic_path(target) as tmp:
                total = _stream(response, head, tmp, clock)
                if declared is not None and total < declared:
                    raise DownloadError("connection_error", f"connection closed after {total} of "
                                        f"{declared} bytes", retry=True)
                try:
                    load_rgb(tmp, VALIDATE_SIDE)
                except ImageRejected as exc:
                    raise DownloadError(exc.reason, exc.detail) from None
            return target, total, fmt
    except (DownloadError, Cancelled):
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise classify_network_error(exc) from None


@dataclass(frozen=True)
class Document:
    """A small document fetched whole (a IIIF manifest): its body and validators; ``body`` is
    None when the server answered 304 Not Modified to a conditional request."""

    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None


def fetch_document(url: str, options: FetchOptions, headers: dict[str, str] | None = None,
                   cancel: threading.Event | None = None) -> Document:
    """One try at a document (JSON...) with the limits of ``options`` (redirects, deadline,
    ``max_bytes``); ``headers`` may make it conditional (304 gives ``body=None``).
    Raises :class:`DownloadError` like :func:`attempt`."""
    clock = _Clock(url, options, cancel)
    try:
        response = _open(normalise_url(url), clock, headers)
    except DownloadError as exc:
        if exc.reason == "http_304":
            return Document(None)
        raise
    try:
        with response:
            _checked_length(response, options)
            parts, total = [], 0
            while True:
                clock.check()
                chunk = response.read1(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > options.max_bytes:
                    raise DownloadError("too_large", f"body passed {options.max_bytes} bytes")
                parts.append(chunk)
            return Document(b"".join(parts), response.headers.get("ETag"),
                            response.headers.get("Last-Modified"))
    except (DownloadError, Cancelled):
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise classify_network_error(exc) from None
