"""requested_paths: the chains asked for (pairs + options), as a table, a PNG strip and an HTML
page per chain; the pairs that could not be answered in a table of their own."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from xdeg_pipeline.core.pictures.markdown import UI_MAX_HEIGHT, UI_MAX_WIDTH
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.layout import Layout

if TYPE_CHECKING:  # core.query loads igraph: imported when paths are asked for, not by a build
    from xdeg_pipeline.core.query import ChainResult, Collection

NAME = "requested_paths"
MAPS = 10  # chains drawn over the collection map, and as strips for the UI (the first ones)
ERROR_COLUMNS = ["source", "target", "error"]
TABLE_COLUMNS = ["chain_id", "source", "target", "mode", "hops", "largest_step"]


def open_collection(settings: Settings) -> Collection:
    """The built graph of the data folder, for path requests (its collection folder the one
    it was built from where none is set)."""
    from xdeg_pipeline.core.query import Collection

    settings = settings.with_built_collection()
    return Collection(settings.home, settings.images_root, openmoji=settings.openmoji)


def example_pair(collection: Collection) -> tuple[str, str]:
    """A deterministic pair for a request with no pairs: two images far apart in name order."""
    names = collection.names
    return names[0], names[len(names) // 2]


def requested_paths(settings: Settings, pairs: Sequence[tuple[str, str]],
                    options: dict[str, Any] | None = None,
                    report: Reporter | None = None) -> StageResult:
    """Answer every pair with the :class:`PathRequest` ``options`` (no pair: one example
    pair); always computed, under no lock (the graph file is only read), so path requests
    run while a build does."""
    report = report or Reporter()
    stage = Stage(NAME, partial(_answer, settings, list(pairs), options or {}, report),
                  always=True, lock=None)
    return run_stage(stage, settings.layout, report)


def _answer(settings: Settings, pairs: list[tuple[str, str]], options: dict[str, Any],
            report: Reporter, inputs: StageInputs) -> Outcome:
    files = inputs.layout
    collection = open_collection(settings)
    from xdeg_pipeline.core.query import PathRequest, chain_id, results_table

    if collection.without_vectors:
        report.warn(f"requested_paths: {collection.without_vectors}")

    requests = [PathRequest(s, t, **options) for s, t in pairs or [example_pair(collection)]]
    answered = answered_chains(files.answered_chains, report)
    earlier = earlier_chains(files, report, answered)
    results: list[ChainResult] = []
    errors = []
    for request in requests:
        try:
            chains = collection.find(request, earlier.get(chain_id(request), ()))
        except (LookupError, ValueError) as exc:
            report.warn(f"path {request.source!r} -> {request.target!r}: {exc}")
            errors.append({"source": request.source, "target": request.target,
                           "error": str(exc)})
            continue
        for chain in chains:
            collection.render(chain, files.paths_dir, attribution=collection.attribution)
            report.info(f"{' -> '.join(chain.path)} (largest step {chain.largest_step:.3f})")
            if chain.earlier is not None and not chain.earlier["kept"]:
                report.info(f"  {request.source} -> {request.target}: the chain answered "
                            f"before changed: {chain.earlier['reason']}")
        results.extend(chains)
        answered.update({c.chain_id: list(c.path) for c in chains[:1]})
    table = results_table(results)
    errors_df = pd.DataFrame(errors, columns=ERROR_COLUMNS)
    maps = chain_maps(collection, results[:MAPS]) if files.collection_map.exists() else {}
    ui_strips = {r.chain_id: collection.fitted_strip(r, UI_MAX_WIDTH, UI_MAX_HEIGHT,
                                                     collection.attribution)
                 for r in results[:MAPS]}
    facts = {"results": results, "errors": errors_df, "maps": maps, "ui_strips": ui_strips,
             "chains_table": table[TABLE_COLUMNS] if len(table) else None}
    writes = {files.requested_paths: table, files.failed_requests: errors_df,
              files.answered_chains: pd.DataFrame({"chain_id": list(answered),
                                                   "path": list(answered.values())}), **maps}
    notes = [r.earlier for r in results if r.earlier is not None]
    state = {"chains": len(results), "failed_requests": len(errors),
             "earlier_chains_kept": sum(n["kept"] for n in notes),
             "earlier_chains_changed": sum(not n["kept"] for n in notes)}
    return Outcome(state=state, writes=writes, facts=facts)


def earlier_chains(files: Layout, report: Reporter,
                   answered: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """{chain id: image names} of the chains people have seen: requested_paths' own
    (``answered``, read from its table when None), then the explorer's for the requests
    requested_paths has not answered (explorer/answers.py)."""
    own = answered_chains(files.answered_chains, report) if answered is None else answered
    return {**answered_chains(files.explorer_chains, report), **own}


def answered_chains(path: Path, report: Reporter) -> dict[str, list[str]]:
    """{chain id: image names} of the chains answered before (none yet, or an unreadable
    table, which is said and started again: {})."""
    if not path.exists():
        return {}
    try:
        table = pd.read_parquet(path, columns=["chain_id", "path"])
    except (OSError, ValueError, KeyError) as exc:
        report.warn(f"{path.name} could not be read ({exc}); earlier chains are not kept "
                    "this time")
        return {}
    return {str(i): [str(n) for n in p] for i, p in zip(table["chain_id"], table["path"])}


def chain_maps(collection: Collection, results: Sequence[ChainResult]) -> dict:
    """The collection map with each chain drawn over it, sized to be seen whole in the Dagster
    UI's metadata view: {picture path: PNG bytes}."""
    from xdeg_pipeline.core.pictures.visuals import map_picture_png

    files = collection.layout
    hashes = collection.graph.vs["content_hash"]
    out = {}
    for chain in results:
        chain_hashes = [hashes[collection.vertex_of_name[n]] for n in chain.path]
        r = chain.request
        title = f"{r.source} -> {r.target} ({r.mode}, {len(chain.path) - 1} steps)"
        out[files.chain_map_png(chain.chain_id)] = map_picture_png(
            files, chain=chain_hashes, chain_labels=[collection.label(n) for n in chain.path],
            title=title, attribution=collection.attribution, size=UI_MAX_WIDTH,
            height=UI_MAX_HEIGHT)
    return out
