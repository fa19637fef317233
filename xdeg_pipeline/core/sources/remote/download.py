"""Downloading a whole manifest: each distinct URL once, on threads, into the cache; the rows
that worked (with their names and metadata) and the rows that did not (with their reasons)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.sources.remote.cache import cached_files, clean_partial_files
from xdeg_pipeline.core.sources.remote.errors import Cancelled, DownloadError
from xdeg_pipeline.core.sources.remote.failures import RETRY_FAILED_AFTER, FailureMemory
from xdeg_pipeline.core.sources.remote.fetch import Fetched, LogFn, fetch_url
from xdeg_pipeline.core.sources.remote.hosts import FAILURES_IN_A_ROW, HostBreaker
from xdeg_pipeline.core.sources.remote.names import base_names, dedupe_names, name_with_format
from xdeg_pipeline.core.sources.remote.transfer import FetchOptions
from xdeg_pipeline.core.sources.remote.urls import normalise_url, url_key

ROW_COLUMNS: tuple[str, ...] = ("name", "url", "local_path", "status", "bytes")
RESERVED_COLUMNS: frozenset[str] = frozenset(ROW_COLUMNS)  # manifest columns get manifest_<c>
REJECTED_DOWNLOAD_COLUMNS: tuple[str, ...] = ("name", "url", "reason", "detail")
DEFAULTS = FetchOptions()
ProgressFn = Callable[[int, int], None]
Outcome = Fetched | DownloadError


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


def download_all(
    table: pd.DataFrame,
    url_column: str,
    cache: Path,
    failures_file: Path,
    *,
    workers: int = 8,
    timeout: float = DEFAULTS.timeout,
    total_timeout: float = DEFAULTS.total_timeout,
    max_bytes: int = DEFAULTS.max_bytes,
    retries: int = DEFAULTS.retries,
    backoff: float = DEFAULTS.backoff,
    max_redirects: int = DEFAULTS.max_redirects,
    retry_failed_after: float = RETRY_FAILED_AFTER,
    hosts_down_after: int = FAILURES_IN_A_ROW,
    progress: ProgressFn | None = None,
    log: LogFn | None = None,
    cancel: threading.Event | None = None,
) -> DownloadResult:
    """Download every row's URL into ``cache`` (see :mod:`xdeg_pipeline.core.sources.remote` for the
    rules); URLs that failed for good are remembered in ``failures_file`` (JSON).

    Each distinct URL is fetched once, on ``workers`` threads; cached URLs are not requested.
    After ``hosts_down_after`` connection failures in a row from one host, its URLs not yet
    requested fail at once as ``host_unreachable`` (:mod:`.hosts`; tried again next run).
    ``progress(done, total)`` runs on the calling thread, over distinct URLs. A failed URL is a
    row of ``rejected``, never an exception. An exception in the caller's thread (Ctrl-C) sets
    ``cancel``: downloads stop at their next chunk and leave no file behind.
    """
    t0 = time.perf_counter()
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    clean_partial_files(cache)
    cancel = cancel or threading.Event()
    if url_column not in table.columns:
        raise KeyError(f"URL column {url_column!r} not in the manifest")
    table = table.reset_index(drop=True)
    urls = [str(u).strip() for u in table[url_column]]
    cached = cached_files(cache)
    memory = FailureMemory(Path(failures_file), retry_failed_after)
    outcome: dict[str, Outcome] = _invalid_urls(urls)
    todo = [u for u in dict.fromkeys(urls) if u not in outcome]
    remembered = memory.recall(todo, cached)
    todo = [u for u in todo if u not in remembered]
    if log is not None:
        fresh = sum(url_key(u) not in cached for u in todo)
        log(f"download: {len(urls)} rows, {len(outcome) + len(remembered) + len(todo)} distinct "
            f"URLs, {len(todo) - fresh} cached, {fresh} to fetch, {len(outcome)} invalid, "
            f"{len(remembered)} failed before (not retried)")
    outcome.update(remembered)
    options = FetchOptions(timeout, total_timeout, max_bytes, retries, backoff, max_redirects)
    total = len(outcome) + len(todo)

    def record(url: str, result: Outcome) -> None:
        outcome[url] = result
        if progress is not None:
            progress(len(outcome), total)

    if progress is not None:
        progress(len(outcome), total)
    _fetch_all(todo, cache, options, workers=workers, cancel=cancel, log=log, cached=cached,
               record=record, hosts_down_after=hosts_down_after)
    memory.update({url: outcome[url] for url in todo})
    result = _tables(table, url_column, urls, outcome)
    result.seconds = time.perf_counter() - t0
    return result


def _invalid_urls(urls: Iterable[str]) -> dict[str, Outcome]:
    """URL -> its error, for the distinct URLs that cannot be fetched at all (empty, ftp:...)."""
    out: dict[str, Outcome] = {}
    for url in dict.fromkeys(urls):
        try:
            normalise_url(url)
        except DownloadError as exc:
            out[url] = exc
    return out


def _fetch_all(
    urls: list[str], cache: Path, options: FetchOptions, *, workers: int,
    cancel: threading.Event, log: LogFn | None, cached: dict[str, Path],
    record: Callable[[str, Outcome], None], hosts_down_after: int = FAILURES_IN_A_ROW,
) -> None:
    """Fetch ``urls`` on ``workers`` threads; ``record(url, result)`` on the calling thread as
    each completes. A host that stops answering has its other URLs skipped (:mod:`.hosts`).
    Any exception here (Ctrl-C) cancels the downloads in flight and waits."""
    breaker = HostBreaker(hosts_down_after)

    def fetch(url: str) -> Outcome:
        try:
            return fetch_url(url, cache, options, cancel=cancel, log=log, cached=cached)
        except DownloadError as exc:
            return exc
        except Cancelled:
            raise
        except Exception as exc:  # one bad URL never stops the run
            return DownloadError("connection_error", f"{type(exc).__name__}: {exc}", retry=True)

    def run(url: str) -> Outcome:
        if url_key(url) in cached:  # no request: the host does not matter
            return fetch(url)
        skipped = breaker.skipped(url)
        if skipped is not None:
            return skipped
        result = fetch(url)
        down = breaker.note(url, result)
        if down is not None and log is not None:
            log(f"download: {down} stopped answering ({breaker.limit} requests in a row "
                "failed): its other URLs are skipped in this run and tried again on the next")
        return result

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="xdeg-download")
    try:
        futures = {pool.submit(run, url): url for url in urls}
        for future in as_completed(futures):
            record(futures[future], future.result())
    except BaseException:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


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


def _tables(
    table: pd.DataFrame, url_column: str, urls: list[str], outcome: dict[str, Outcome]
) -> DownloadResult:
    """One row per manifest row: in ``rows`` (named, with its metadata) or in ``rejected``."""
    bases = base_names(table, url_column)
    meta_names = _metadata_names([str(c) for c in table.columns], url_column)
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
            row[new] = str(table[col].iat[i])
        rows.append(row)
    rows_df = pd.DataFrame(rows, columns=[*ROW_COLUMNS, *meta_names.values()])
    rows_df["name"] = dedupe_names(rows_df["name"].tolist())
    fetched = [r for r in outcome.values() if isinstance(r, Fetched)]
    return DownloadResult(
        rows=rows_df,
        rejected=pd.DataFrame(rejected, columns=list(REJECTED_DOWNLOAD_COLUMNS)),
        metadata_columns=list(meta_names.values()),
        downloaded=sum(not f.cached for f in fetched),
        cached=sum(f.cached for f in fetched),
        failed=sum(isinstance(r, DownloadError) for r in outcome.values()),
        bytes_downloaded=sum(f.bytes for f in fetched if not f.cached),
    )
