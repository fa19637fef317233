"""Fetching one URL into the cache: found there, or downloaded with retries and backoff."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from xdeg_pipeline.core.images.formats import format_of_suffix
from xdeg_pipeline.core.sources.remote.cache import cached_files
from xdeg_pipeline.core.sources.remote.errors import Cancelled, DownloadError
from xdeg_pipeline.core.sources.remote.transfer import FetchOptions, attempt
from xdeg_pipeline.core.sources.remote.urls import key_of_normal, normalise_url

LogFn = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Fetched:
    """A URL now in the cache."""

    path: Path
    bytes: int
    format: str
    attempts: int
    cached: bool


def _wait(delay: float, url: str, cancel: threading.Event | None) -> None:
    if cancel is None:
        time.sleep(delay)
    elif cancel.wait(delay):
        raise Cancelled(url) from None


def fetch_url(
    url: str,
    folder: Path,
    options: FetchOptions | None = None,
    *,
    cancel: threading.Event | None = None,
    log: LogFn | None = None,
    cached: dict[str, Path] | None = None,
) -> Fetched:
    """Download one URL into ``folder`` as ``<sha256(url)>.<ext>`` (or find it there, in
    ``cached`` when given, else by listing ``folder``).

    Raises :class:`DownloadError` after the retries, :class:`Cancelled` when ``cancel`` is set.
    """
    options = options or FetchOptions()
    normal = normalise_url(url)
    key = key_of_normal(normal)
    known = cached.get(key) if cached is not None else cached_files(folder).get(key)
    if known is not None:
        fmt = format_of_suffix(known.suffix) or "?"
        return Fetched(known, known.stat().st_size, fmt, 0, True)
    folder.mkdir(parents=True, exist_ok=True)
    (path, size, fmt), tries = with_retries(
        lambda: attempt(normal, key, folder, options, cancel), url, options, cancel=cancel,
        log=log)
    return Fetched(path, size, fmt, tries, False)


def with_retries(call: Callable[[], T], url: str, options: FetchOptions, *,
                 cancel: threading.Event | None = None, log: LogFn | None = None
                 ) -> tuple[T, int]:
    """``call()`` (one attempt at ``url``) and the number of tries: a :class:`DownloadError`
    with ``retry`` set is tried again up to ``options.retries`` times with exponential backoff
    (``Retry-After`` honoured); the last error is raised."""
    tries = 0
    while True:
        tries += 1
        try:
            return call(), tries
        except DownloadError as exc:
            if not exc.retry or tries > options.retries:
                if tries > 1:
                    exc.detail = f"{exc.detail} (after {tries} attempts)"
                raise
            delay = options.backoff * 2 ** (tries - 1) * (1 + 0.25 * random.random())
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            if log is not None:
                log(f"retry {tries}/{options.retries} in {delay:.1f} s for {url[:120]}: {exc}")
            _wait(delay, url, cancel)
