"""collection_map: every image at a 2-D position (t-SNE of the PCA features, new images
placed into the stored map without moving the others) and the map's picture (the new images
pasted onto the stored picture where the map's extent is unchanged)."""

from __future__ import annotations

import dataclasses
from functools import partial

from xdeg_pipeline.core.pictures.collection_map import MapParams, build_map, map_frame, read_map
from xdeg_pipeline.core.pictures.visuals import (
    added_map_picture_png,
    map_picture_key,
    map_picture_png,
)
from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.core.stage import Outcome, Reporter, Stage, StageInputs, StageResult, run_stage
from xdeg_pipeline.core.storage.tables import read_feature_table

NAME = "collection_map"
VERSION = 1


def collection_map(settings: Settings, report: Reporter | None = None,
                   params: MapParams | None = None) -> StageResult:
    """Lay out or extend the map (reused while pca_features and the thumbnails are unchanged);
    the layout is fitted afresh when its settings change."""
    files, params = settings.layout, params or MapParams()
    stage = Stage(NAME, partial(_layout, params, _attribution(settings)),
                  upstream=("pca_features", "thumbnails"),
                  params=(VERSION, dataclasses.asdict(params)),
                  outputs=(files.collection_map, files.collection_map_png))
    return run_stage(stage, files, report)


def _attribution(settings: Settings) -> str | None:
    if not settings.openmoji:
        return None
    from xdeg_pipeline.core.sources.openmoji import OPENMOJI_ATTRIBUTION

    return OPENMOJI_ATTRIBUTION


def _layout(params: MapParams, attribution: str | None, inputs: StageInputs) -> Outcome:
    files = inputs.layout
    hashes, X = read_feature_table(files.pca_features)
    refit = inputs.previous.get("fit_params") != params.fit_params()
    result = build_map(hashes, X, read_map(files.collection_map), params, refit=refit)
    table = map_frame(result.table)
    key = map_picture_key(attribution)
    png = None
    if result.mode == "place" and not result.removed and inputs.previous.get("picture") == key:
        png = added_map_picture_png(files, table, result.kept, attribution)  # the new pasted on
    drawn = "the new images" if png is not None else "whole"
    if png is None:
        png = map_picture_png(files, table, attribution=attribution)
    state = {"images": len(table), "fit_params": params.fit_params(), "last_mode": result.mode,
             "picture": key}
    facts = {"mode": result.mode, "placed": result.placed, "kept": result.kept,
             "removed": result.removed, "layout_seconds": round(result.seconds, 3),
             "picture_drawn": drawn}
    return Outcome(state=state, facts=facts,
                   writes={files.collection_map: table, files.collection_map_png: png})
