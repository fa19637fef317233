"""Why a URL did not become a cached image: :class:`DownloadError` and its reasons."""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error

from xdeg_pipeline.core.images.formats import FORMAT_NAMES

REASONS: dict[str, str] = {
    "missing_url": "the URL cell is empty",
    "bad_scheme": "not an http(s) URL (ftp:, file:, data:, ... or a redirect to one)",
    "bad_url": "the URL cannot be parsed (no host, bad port, ...)",
    "http_<code>": "the server answered with this HTTP error status (5xx after the retries)",
    "timeout": "no answer within the socket timeout, or the transfer took over total_timeout",
    "connection_error": "refused, reset, DNS failure or closed before the end (after retries)",
    "host_unreachable": "not requested: its host stopped answering in this run (timeouts or "
                        "connection errors in a row), tried again on the next run",
    "ssl_error": "TLS handshake or certificate verification failed",
    "protocol_error": "the server's answer is not valid HTTP",
    "too_many_redirects": "more than max_redirects redirects in one attempt (e.g. a loop)",
    "bad_redirect": "a redirect status without a Location header",
    "too_large": "Content-Length or the streamed body over max_bytes",
    "not_an_image": f"the bytes are not a {FORMAT_NAMES} (e.g. an HTML page)",
    "empty": "the server sent no body",
    "truncated/corrupt/...": "image bytes that do not decode (reasons of core.images)",
}


class DownloadError(Exception):
    """A URL that could not be turned into a cached image; ``reason`` from :data:`REASONS`.
    ``retry``: the failure may pass (5xx, timeout...); ``retry_after``: the server's wish (s)."""

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


def classify_network_error(exc: BaseException) -> DownloadError:
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
