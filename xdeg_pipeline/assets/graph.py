"""knn_edges (nmslib) and similarity_graph (igraph, connected by construction)."""

import base64
import io
import time

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from xdeg_pipeline.assets.common import CODE_VERSION, layout, path_meta
from xdeg_pipeline.core import params
from xdeg_pipeline.core.atomic import build_lock, write_parquet, write_pickle
from xdeg_pipeline.core.graph import build_graph
from xdeg_pipeline.core.knn import knn_edges as compute_knn_edges
from xdeg_pipeline.core.state import fingerprint, is_current, read_state, write_state
from xdeg_pipeline.core.tables import read_feature_table
from xdeg_pipeline.resources import XdegResource

EAGER = AutomationCondition.eager()


def _k(xdeg: XdegResource) -> int:
    return int(xdeg.k or params.KNN_K)


@asset(
    deps=["pca_features"],
    group_name="graph",
    code_version=CODE_VERSION,
    kinds={"nmslib", "parquet"},
    automation_condition=EAGER,
    description="k nearest neighbours of every image (nmslib HNSW) as an edge table; "
    "source/target are row numbers of pca_features.",
)
def knn_edges(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    files = layout(xdeg)
    with build_lock(files.home):
        k = _k(xdeg)
        upstream = read_state(files.home, "pca_features").get("output_fingerprint")
        input_fp = fingerprint(upstream, k, params.KNN_SPACE)
        t0 = time.perf_counter()
        state = is_current(files.home, "knn_edges", input_fp, [files.knn_edges])
        if state is None:
            _, Z = read_feature_table(files.pca_features)
            edges = compute_knn_edges(Z, k=min(k, max(len(Z) - 1, 1)), space=params.KNN_SPACE)
            write_parquet(edges, files.knn_edges)
            state = {
                "input_fingerprint": input_fp,
                "output_fingerprint": input_fp,
                "edges": len(edges),
                "images": len(Z),
                "k": k,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            write_state(files.home, "knn_edges", state)
        else:
            context.log.info("pca_features unchanged: reusing knn_edges")
        return MaterializeResult(
            data_version=DataVersion(state["output_fingerprint"]),
            metadata={
                "path": path_meta(files.knn_edges),
                "edges": state["edges"],
                "images": state["images"],
                "k": k,
                "space": params.KNN_SPACE,
                "seconds": round(time.perf_counter() - t0, 3),
            },
        )


def _degree_histogram(counts: list[int]) -> MetadataValue:
    """Degree histogram (``counts[d]`` images of degree d) as an inline PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    ax.bar(np.arange(len(counts)), counts, width=1.0, color="#4a7ab5")
    ax.set_xlabel("degree")
    ax.set_ylabel("images")
    ax.set_yscale("log")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return MetadataValue.md(f"![degree histogram](data:image/png;base64,{data})")


@asset(
    deps=["knn_edges", "raw_images"],
    group_name="graph",
    code_version=CODE_VERSION,
    kinds={"igraph", "pickle"},
    automation_condition=EAGER,
    description="Undirected similarity graph built in bulk from knn_edges, bridged so that "
    "every pair of images is connected.",
)
def similarity_graph(context: AssetExecutionContext, xdeg: XdegResource) -> MaterializeResult:
    files = layout(xdeg)
    with build_lock(files.home):
        upstream = read_state(files.home, "knn_edges").get("output_fingerprint")
        names_fp = read_state(files.home, "raw_images").get("output_fingerprint")
        input_fp = fingerprint(
            upstream, names_fp, {k: v for k, v in vars(params).items() if k.isupper()}
        )
        t0 = time.perf_counter()
        state = is_current(files.home, "similarity_graph", input_fp, [files.similarity_graph])
        if state is None:
            hashes, Z = read_feature_table(files.pca_features)
            edges = pd.read_parquet(files.knn_edges)
            manifest = pd.read_parquet(files.raw_images)
            names_by_hash = (
                manifest.groupby("content_hash", sort=False)["name"].apply(list).to_dict()
            )
            names = [names_by_hash.get(h, [h]) for h in hashes]
            graph = build_graph(
                edges,
                Z,
                vertex_attrs={
                    "content_hash": hashes,
                    "name": [n[0] for n in names],
                    "names": names,
                },
            )
            write_pickle(graph, files.similarity_graph)
            degrees = np.asarray(graph.degree())
            state = {
                "input_fingerprint": input_fp,
                "output_fingerprint": input_fp,
                "vertices": graph.vcount(),
                "edges": graph.ecount(),
                "components": len(graph.connected_components()),
                "degree_max": int(degrees.max()) if len(degrees) else 0,
                "degree_mean": float(degrees.mean()) if len(degrees) else 0.0,
                "degree_counts": np.bincount(degrees).tolist() if len(degrees) else [0],
            }
            write_state(files.home, "similarity_graph", state)
        else:
            context.log.info("knn_edges unchanged: reusing similarity_graph")
        return MaterializeResult(
            data_version=DataVersion(state["output_fingerprint"]),
            metadata={
                "path": path_meta(files.similarity_graph),
                "vertices": state["vertices"],
                "edges": state["edges"],
                "components": state["components"],
                "degree_mean": round(state["degree_mean"], 2),
                "degree_max": state["degree_max"],
                "degree_histogram": _degree_histogram(state["degree_counts"]),
                "seconds": round(time.perf_counter() - t0, 3),
            },
        )
