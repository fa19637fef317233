"""Failure memory: URLs that failed for good (HTTP 4xx, not an image, too large, undecodable,
a redirect loop) are remembered in a JSON file and not requested again for a while; transient
failures (timeouts, connection errors, HTTP 5xx/408/429) are tried again on every run."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from xdeg_pipeline.core.sources.remote.errors import DownloadError
from xdeg_pipeline.core.sources.remote.urls import url_key
from xdeg_pipeline.core.storage.atomic import write_text

RETRY_FAILED_AFTER = 24 * 3600.0  # seconds before a remembered failure is tried again


class FailureMemory:
    """The failures file: ``{cache key: {"reason", "detail", "time"}}``, read once, written
    atomically when it changes."""

    def __init__(self, path: Path, retry_after: float = RETRY_FAILED_AFTER,
                 now: float | None = None) -> None:
        self.path = Path(path)
        self.retry_after = retry_after
        self.now = time.time() if now is None else now
        self.entries = self._load()

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def recall(self, urls: Iterable[str], cached: Collection[str]) -> dict[str, DownloadError]:
        """URL -> its remembered error, for each of ``urls`` that failed for good less than
        ``retry_after`` seconds ago and has no file in the cache (keys in ``cached``)."""
        out: dict[str, DownloadError] = {}
        for url in urls:
            key = url_key(url)
            old = self.entries.get(key)
            if (
                key not in cached
                and isinstance(old, dict)
                and self.now - float(old.get("time", 0)) < self.retry_after
            ):
                out[url] = DownloadError(
                    str(old.get("reason", "connection_error")),
                    f"{old.get('detail', '')} (remembered from an earlier run; tried again after "
                    f"{self.retry_after / 3600:g} h or when {self.path.name} is deleted)",
                )
        return out

    def update(self, outcomes: Mapping[str, object]) -> None:
        """Remember the permanent failures among ``outcomes`` (URL -> result of this run);
        forget URLs that now work or may work. Writes the file when anything changed."""
        changed = False
        for url, result in outcomes.items():
            key = url_key(url)
            if isinstance(result, DownloadError) and not result.retry:
                self.entries[key] = {"reason": result.reason, "detail": result.detail,
                                     "time": self.now}
                changed = True
            elif key in self.entries:
                del self.entries[key]
                changed = True
        if changed:
            write_text(json.dumps(self.entries, indent=1, sort_keys=True), self.path)
