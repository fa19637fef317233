"""A host that stops answering: its other URLs are skipped for the rest of the run.

Each URL is tried ``retries + 1`` times, each try waiting up to the socket timeout, so a host
that takes connections and never answers costs about 80 s a URL with the defaults: hours for a
manifest of a thousand images on it. After :data:`FAILURES_IN_A_ROW` requests to one host
failed at the connection (a timeout, a refused or reset connection) with no answer from it in
between, its URLs not yet requested fail at once as ``host_unreachable``: a transient failure,
tried again on the next run. Any answer (an image, an HTTP error) shows the host is there and
starts the count again. A host is ``host:port`` of the URL as written (redirects not followed).
"""

from __future__ import annotations

import threading
import urllib.parse

from xdeg_pipeline.core.sources.remote.errors import DownloadError

FAILURES_IN_A_ROW = 8  # the downloader's default workers: one whole wave of requests failed
CONNECTION_FAILURES = frozenset({"timeout", "connection_error"})


def host_of(url: str) -> str:
    """``host:port`` of ``url`` (lower case; the scheme's port when none is written)."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if parts.scheme.lower() == "https" else 80
    return f"{(parts.hostname or '').lower()}:{port or default}"


class HostBreaker:
    """Counts each host's connection failures in a row, across the download threads."""

    def __init__(self, limit: int = FAILURES_IN_A_ROW) -> None:
        self.limit = max(1, int(limit))
        self._lock = threading.Lock()
        self._in_a_row: dict[str, int] = {}
        self._down: dict[str, str] = {}  # host -> the last failure's reason

    def skipped(self, url: str) -> DownloadError | None:
        """The error of a URL whose host stopped answering in this run, else None."""
        host = host_of(url)
        with self._lock:
            reason = self._down.get(host)
        if reason is None:
            return None
        return DownloadError(
            "host_unreachable",
            f"{self.limit} requests to {host} in a row failed ({reason}); its other URLs are "
            "not requested in this run", retry=True)

    def note(self, url: str, result: object) -> str | None:
        """Count ``result`` (a fetched file or a :class:`DownloadError`) of a request to
        ``url``'s host; returns the host when this result made it count as down."""
        host = host_of(url)
        failed = isinstance(result, DownloadError) and result.reason in CONNECTION_FAILURES
        with self._lock:
            if not failed:
                self._in_a_row[host] = 0
                return None
            self._in_a_row[host] = count = self._in_a_row.get(host, 0) + 1
            if count >= self.limit and host not in self._down:
                self._down[host] = result.reason
                return host
            return None

    @property
    def down(self) -> list[str]:
        """The hosts that count as down in this run."""
        with self._lock:
            return sorted(self._down)
