"""A IIIF source downloaded like a URL manifest: the walk's rows go through
:func:`remote.download_all` (cache, retries, failure memory, size cap, atomic writes), a second
pass tries the body's own URL of the rows whose Image API request failed."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.sources.iiif.documents import Documents
from xdeg_pipeline.core.sources.iiif.reader import METADATA_COLUMNS, Reader, Walk
from xdeg_pipeline.core.sources.remote.cache import cached_files
from xdeg_pipeline.core.sources.remote.download import (
    REJECTED_DOWNLOAD_COLUMNS,
    DownloadResult,
    ProgressFn,
    download_all,
)
from xdeg_pipeline.core.sources.remote.errors import DownloadError
from xdeg_pipeline.core.sources.remote.fetch import LogFn
from xdeg_pipeline.core.sources.remote.names import base_names, dedupe_names
from xdeg_pipeline.core.sources.remote.transfer import FetchOptions
from xdeg_pipeline.core.sources.remote.urls import url_key

HELPER_COLUMNS = ("id", "fallback", "row")  # in the table given to download_all, not kept


@dataclass
class IIIFResult:
    """The images (``download``: rows, metadata, counts) and the problems of the walk
    (``problems``: name, url, reason, detail: unreadable documents, canvases without image)."""

    download: DownloadResult
    problems: pd.DataFrame
    walk: Walk
    documents_fetched: int = 0
    documents_not_modified: int = 0


def download_iiif(
    source: str,
    cache: Path,
    failures_file: Path,
    documents: Path | None,
    *,
    size: int = 512,
    first_only: bool = False,
    language: str = "en",
    workers: int = 8,
    progress: ProgressFn | None = None,
    log: LogFn | None = None,
    cancel: threading.Event | None = None,
    **fetch: float,
) -> IIIFResult:
    """Read ``source`` (a URL or file: manifest or collection) and download one image per canvas
    kept into ``cache``; documents' validators are kept in ``documents``. ``fetch``: the other
    keyword arguments of :func:`remote.download_all` (timeouts, retries, max_bytes...)."""
    options = FetchOptions(**{k: v for k, v in fetch.items()
                              if k in FetchOptions.__dataclass_fields__})
    docs = Documents(documents, options, log=log, cancel=cancel)
    walk = Reader(docs, size=size, first_only=first_only, language=language,
                  workers=workers).read(source)
    docs.save()
    if log is not None:
        log(f"iiif {source}: {walk.collections} collections, {walk.manifests} manifests, "
            f"{walk.canvases} canvases, {len(walk.rows)} images to have, {len(walk.problems)} "
            f"problems; documents: {docs.fetched} fetched, {docs.not_modified} not modified")
    table = _table(walk.rows, Path(cache))
    common = {"workers": workers, "progress": progress, "log": log, "cancel": cancel, **fetch}
    first = download_all(table, "url", cache, failures_file, **common)
    retry = table[table["id"].isin(set(first.rejected["name"])) & (table["fallback"] != "")]
    retry = retry.assign(url=retry["fallback"], fallback="")
    second = download_all(retry, "url", cache, failures_file, **common) if len(retry) else None
    return IIIFResult(_combine(table, first, second), pd.DataFrame(
        walk.problems, columns=list(REJECTED_DOWNLOAD_COLUMNS)), walk, docs.fetched,
        docs.not_modified)


def _table(rows: list[dict[str, str]], cache: Path) -> pd.DataFrame:
    """The rows as download_all's table; a row whose Image API request is not cached but whose
    own URL is (an earlier run fell back to it) starts with that URL: no request again."""
    columns = ["id", "url", "fallback", *METADATA_COLUMNS]
    table = pd.DataFrame(rows, columns=columns).fillna("")
    table["id"] = base_names(table, "url")  # the names download_all gives rejected rows
    table["row"] = [str(i) for i in range(len(table))]
    have = cached_files(cache)

    def key(url: str) -> str | None:
        try:
            return url_key(url)
        except DownloadError:
            return None

    for i in range(len(table)):
        url, fallback = table["url"].iat[i], table["fallback"].iat[i]
        if fallback and key(url) not in have and key(fallback) in have:
            table.iloc[i, table.columns.get_loc("url")] = fallback
            table.iloc[i, table.columns.get_loc("fallback")] = ""
    return table


def _combine(table: pd.DataFrame, first: DownloadResult,
             second: DownloadResult | None) -> DownloadResult:
    """One result: rows of both passes in table order, rejections of rows that no pass had."""
    rows = first.rows if second is None else pd.concat([first.rows, second.rows],
                                                       ignore_index=True)
    rows = rows.sort_values("row", key=lambda s: s.astype(int), kind="stable")
    rows = rows.reset_index(drop=True)
    rows["name"] = dedupe_names(rows["name"].tolist())
    done = set(rows["row"])
    where = dict(zip(table["row"], zip(table["canvas"], table["manifest"])))
    rejected = []
    last = {} if second is None else _by_row(table, second.rejected)
    for row, rej in _by_row(table, first.rejected).items():
        if row in done:
            continue
        rej = last.get(row, rej)
        canvas, manifest = where[row]
        rejected.append({**rej, "detail": f"{rej['detail']} (canvas {canvas} of manifest "
                         f"{manifest}{'; its own URL failed too' if row in last else ''})"})
    keep = [c for c in first.metadata_columns if c not in HELPER_COLUMNS]
    passes = [p for p in (first, second) if p is not None]
    return DownloadResult(
        rows=rows, rejected=pd.DataFrame(rejected, columns=list(REJECTED_DOWNLOAD_COLUMNS)),
        metadata_columns=keep, downloaded=sum(p.downloaded for p in passes),
        cached=sum(p.cached for p in passes), failed=len(rejected),
        bytes_downloaded=sum(p.bytes_downloaded for p in passes),
        seconds=sum(p.seconds for p in passes))


def _by_row(table: pd.DataFrame, rejected: pd.DataFrame) -> dict[str, dict]:
    """row -> its rejection, matching the rejected rows' names to the table's ids."""
    out: dict[str, dict] = {}
    by_name = {r["name"]: r for r in rejected.to_dict("records")}
    for row, name in zip(table["row"], table["id"]):
        if name in by_name:
            out[row] = by_name[name]
    return out
