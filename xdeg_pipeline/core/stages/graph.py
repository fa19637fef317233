"""similarity_graph: the undirected graph built in bulk from knn_edges, bridged so that every
pair of images is connected, with the hub load path search uses and its recoloured edges marked
(two colourings of one drawing, from image_outlines: :mod:`xdeg_pipeline.core.graph.recolours`).

After a small change (images added or removed, same space and settings) the hub load is updated
from the previous graph's instead of estimated afresh (:mod:`xdeg_pipeline.core.paths.
load_update`: the kept images keep theirs, the new ones get theirs in a few rounds going on from
it); the state and the run's facts say which (``mode``: ``update`` or ``rebuild``,
``mode_reason``, ``load_estimated``: the images whose load was made this run). The structure is
built in bulk either way (equal to a rebuild by construction): on 4,000 images + 40 it is 0.6
CPU s, against 2.0 for the fresh load estimate the stage used to run on every build and 0.56 for
the update (``python -m benchmarks.graph_update``). Its parts an update could skip (bridges,
exits, landmarks, the pair median) are about half of it; the rest (edge distances, igraph
assembly, the pickle) is O(n k) either way, so it stays a bulk build.
"""

from __future__ import annotations

import pickle
from functools import partial

import numpy as np
import pandas as pd

from xdeg_pipeline.core import params
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.state import fingerprint
from xdeg_pipeline.core.storage.tables import read_feature_table

NAME = "similarity_graph"


def graph_params() -> dict:
    """Every default of :mod:`params` (the graph's input: a changed default rebuilds it)."""
    return {k: v for k, v in vars(params).items() if k.isupper()}


def similarity_graph(settings: Settings, report: Reporter | None = None) -> StageResult:
    """Build the graph (reused while knn_edges, the names and the parameters are unchanged)."""
    layout = settings.layout
    stage = Stage(NAME, partial(_build, settings.knn_partition_above),
                  upstream=("knn_edges", "raw_images", "image_outlines"),
                  params=(graph_params(),),
                  outputs=(layout.similarity_graph,))
    return run_stage(stage, layout, report)


def _build(partition_above: int, inputs: StageInputs) -> Outcome:
    """Above ``partition_above`` images the exit search runs in k-means partitions (on the
    Dask cluster when this runs as a Dask task), as knn_edges does."""
    # igraph and the path finder: only when building
    from xdeg_pipeline.core.graph.build import build_graph, save_graph
    from xdeg_pipeline.core.graph.knn_partitioned import cluster_runner
    from xdeg_pipeline.core.graph.recolours import mark_recoloured
    from xdeg_pipeline.core.paths.load_update import update_hub_load
    from xdeg_pipeline.core.stages.outlines import outline_matrix

    files = inputs.layout
    hashes, Z = read_feature_table(files.pca_features)
    edges = pd.read_parquet(files.knn_edges)
    manifest = pd.read_parquet(files.raw_images)
    names_by_hash: dict[str, list[str]] = {}  # in the manifest's order (a pandas groupby-apply
    for h, name in zip(manifest["content_hash"].tolist(), manifest["name"].tolist()):  # took 30x)
        names_by_hash.setdefault(h, []).append(name)
    names = [names_by_hash.get(h, [h]) for h in hashes]
    previous = _previous(files)  # read before building: the old graph is gone by then
    graph = build_graph(
        edges, Z,
        vertex_attrs={"content_hash": hashes, "name": [n[0] for n in names], "names": names},
        partition_above=partition_above, runner=cluster_runner(),
    )
    recoloured = mark_recoloured(graph, *outline_matrix(files, hashes))
    graph, how = update_hub_load(graph, previous, basis=fingerprint(
        graph_params(), inputs.upstream.get("knn_edges", {}).get("pca_model")))
    inputs.log(f"similarity_graph: {how.mode}" + (f" ({how.reason})" if how.reason else "")
               + f", hub load estimated for {how.estimated} of {graph.vcount()} images")
    degrees = np.asarray(graph.degree())
    state = {
        "vertices": graph.vcount(),
        "edges": graph.ecount(),
        "components": len(graph.connected_components()),
        "exits": int(graph["params"].get("exits", 0)),  # distinct-exit edges (core/graph/exits.py)
        "exit_search": graph["params"].get("exit_search"),  # exact, hnsw or partitioned
        "recoloured_edges": recoloured,  # one drawing's colourings (core/graph/recolours.py)
        "degree_max": int(degrees.max()) if len(degrees) else 0,
        "degree_mean": float(degrees.mean()) if len(degrees) else 0.0,
        "degree_counts": np.bincount(degrees).tolist() if len(degrees) else [0],
        "mode": how.mode, "mode_reason": how.reason, "load_estimated": how.estimated,
    }
    return Outcome(state=state, writes={files.similarity_graph: partial(save_graph, graph)},
                   facts={"mode": how.mode, "load_estimated": how.estimated})


def _previous(files):
    """The hub load of the graph this build replaces (carried over), or None; only what
    carrying it needs is kept (:class:`~xdeg_pipeline.core.paths.load.PreviousLoad`), read as
    arrays: no igraph object is built for it (4,000 images: 85 ms against 2.5 ms; 200,000
    images and 4 million edges: 4.0 s against 0.04 s)."""
    from xdeg_pipeline.core.graph.build import load_graph_lean
    from xdeg_pipeline.core.paths.load import PreviousLoad

    try:
        return PreviousLoad.of(load_graph_lean(files.similarity_graph, allowed_root=files.home))
    except (OSError, ValueError, EOFError, ImportError, AttributeError,
            pickle.UnpicklingError):
        return None
