"""URLs as the downloader fetches them: http(s) only, normalised, keyed by sha256."""

from __future__ import annotations

import hashlib
import urllib.parse

from xdeg_pipeline.core.sources.remote.errors import DownloadError


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
    return key_of_normal(normalise_url(url))


def key_of_normal(normal: str) -> str:
    """The cache key of an already normalised URL."""
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()
