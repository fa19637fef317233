"""near_duplicates: groups of images closer than the near-duplicate distance, from the graph.

A table for curators (one row per image that has a near-duplicate: its group, the group's
size, its content hash and name, the distance to its nearest neighbour), and a strip of each
of the largest groups; also a strip of each of the largest recolour groups (one drawing in
several colourings, which path search treats alike: :mod:`xdeg_pipeline.core.graph.recolours`).
The distance, the natural step and the groups are those path search uses
(:mod:`xdeg_pipeline.core.graph.near_duplicates`).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import pandas as pd

from xdeg_pipeline.core import params
from xdeg_pipeline.core.images.files import ImageFiles
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.state import fingerprint

if TYPE_CHECKING:  # igraph, the graph and the path finder are imported only when a build
    import igraph as ig  # finds near-duplicates (0.8 s a build with nothing to do saves)

    from xdeg_pipeline.core.graph.lean import LeanGraph
    from xdeg_pipeline.core.graph.near_duplicates import NearDuplicates

NAME = "near_duplicates"
COLUMNS = ["group", "group_size", "content_hash", "name", "nearest_distance"]
EXAMPLES = 3  # strips of the largest groups
STRIP_IMAGES = 12  # images per strip
VERSION = 2  # bump when the table or the strips change


def near_duplicates(settings: Settings, report: Reporter | None = None) -> StageResult:
    """Find the groups (reused while the graph and the near-duplicate fraction are unchanged)."""
    layout = settings.layout
    stage = Stage(NAME, partial(_find, settings), upstream=("similarity_graph",),
                  params=(params.NEAR_DUP_FRACTION, VERSION), outputs=(layout.near_duplicates,))
    return run_stage(stage, layout, report)


def group_table(graph: ig.Graph | LeanGraph, near: NearDuplicates) -> pd.DataFrame:
    """One row per image in a group, largest groups first (then group, name)."""
    rows = []
    hashes, names = _hashes_and_names(graph)
    for g, members in enumerate(near.groups):
        for v in members.tolist():
            rows.append({"group": g, "group_size": len(members), "content_hash": hashes[v],
                         "name": names[v], "nearest_distance": float(near.nearest[v])})
    return _largest_first(pd.DataFrame(rows, columns=COLUMNS))


def _hashes_and_names(graph: ig.Graph | LeanGraph) -> tuple[list[str], list[str]]:
    """Each vertex's content hash ("" without) and name (its number without)."""
    attrs, n = graph.vs.attributes(), graph.vcount()
    return (graph.vs["content_hash"] if "content_hash" in attrs else [""] * n,
            graph.vs["name"] if "name" in attrs else [str(v) for v in range(n)])


def _largest_first(table: pd.DataFrame) -> pd.DataFrame:
    """A group table with its largest groups first (then group, name)."""
    if not len(table):
        return table
    return table.sort_values(["group_size", "group", "name"], ascending=[False, True, True],
                             ignore_index=True)


def recolour_table(graph: LeanGraph) -> pd.DataFrame:
    """One row per image in a recolour group (one drawing in several colourings, the graph's
    ``recolour`` edges: :mod:`xdeg_pipeline.core.graph.recolours`), largest groups first."""
    import numpy as np

    from xdeg_pipeline.core.graph.recolours import recolour_groups

    flags = graph.edge_arrays.get("recolour")
    n = graph.vcount()
    label = (recolour_groups(n, graph.eu, graph.ev, flags) if flags is not None
             else np.full(n, -1))
    inside = np.flatnonzero(label >= 0)
    sizes = np.bincount(label[inside]) if len(inside) else np.zeros(0, int)
    hashes, names = _hashes_and_names(graph)
    return _largest_first(pd.DataFrame({"group": label[inside],
                                        "group_size": sizes[label[inside]],
                                        "content_hash": [hashes[v] for v in inside],
                                        "name": [names[v] for v in inside]}))


def _find(settings: Settings, inputs: StageInputs) -> Outcome:
    from xdeg_pipeline.core.graph.build import load_graph_lean
    from xdeg_pipeline.core.graph.near_duplicates import find_near_duplicates

    files = inputs.layout
    graph = load_graph_lean(files.similarity_graph, allowed_root=files.home)  # arrays: no igraph
    near = find_near_duplicates(graph)
    table = group_table(graph, near)
    recolours = recolour_table(graph)
    writes: dict = {files.near_duplicates: table}
    drawn_before = inputs.previous.get("strips") or {}
    drawn: dict = {}
    examples = _strips(settings, files, table, "group", "near-duplicate group {g}: {n} images",
                       drawn_before, drawn, writes)
    recoloured = _strips(settings, files, recolours, "recolour",
                         "one drawing in {n} colourings (recolour group {g})", drawn_before,
                         drawn, writes)
    summary = near.summary()
    state = {**{k: (round(v, 6) if isinstance(v, float) else v) for k, v in summary.items()},
             "images": graph.vcount(), "examples": examples, "strips": drawn,
             "recolour_groups": int(recolours["group"].nunique()),
             "images_in_recolour_groups": len(recolours), "recolour_examples": recoloured}
    return Outcome(state=state, writes=writes)


def _strips(settings: Settings, files, table: pd.DataFrame, kind: str, title: str,
            drawn_before: dict, drawn: dict, writes: dict) -> list[str]:
    """Strips of the ``EXAMPLES`` largest groups of ``table`` (``<kind>-<g>.png``), added to
    ``writes`` unless one showing the same is in place; returns their paths."""
    from xdeg_pipeline.core.query import label_for

    examples, to_draw = [], []
    for g in table["group"].drop_duplicates().head(EXAMPLES).tolist():
        rows = table.loc[table["group"] == g].head(STRIP_IMAGES)
        out = files.near_duplicates_dir / f"{kind}-{g}.png"
        labels = [label_for(n, settings.openmoji) for n in rows["name"]]
        text = title.format(g=g, n=int((table["group"] == g).sum()))
        # what the strip shows: one unchanged is not drawn again when the graph is rebuilt
        drawn[out.name] = fingerprint(VERSION, rows["content_hash"].tolist(), labels, text)
        if drawn_before.get(out.name) != drawn[out.name] or not out.is_file():
            to_draw.append((out, rows["name"].tolist(), labels, text))
        examples.append(str(out))
    if to_draw:  # the manifest is read only for strips to draw
        image_files = ImageFiles(pd.read_parquet(files.raw_images), settings.images_root)
        for out, members, labels, text in to_draw:
            writes[out] = partial(_strip, [image_files.of(n) for n in members], labels, text)
    return examples


def _strip(images: list, labels: list[str], title: str, path) -> None:
    from xdeg_pipeline.core.pictures.render import path_strip_png

    path_strip_png(images, labels, path, thumb=96, title=title, max_per_row=STRIP_IMAGES)
