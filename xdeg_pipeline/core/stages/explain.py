"""Explain a step of a chain: the similarity maps of two images (:mod:`..features.explain`),
their distance and the rank of each among the other's neighbours, for the CLI
(``xdeg explain``) and the explorer (``/api/explain``).

The model is the one that made the data folder's features (recorded in the
``image_features`` state), loaded once per process; the PCA (mean, axes) is the data folder's,
so the maps decompose the similarity the kNN distance is made of.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from xdeg_pipeline.core.features.explain import NoSpatialMap
from xdeg_pipeline.core.features.spec import ModelOptions
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.core.storage.state import read_state
from xdeg_pipeline.core.storage.tables import read_feature_table

_LOCK = threading.Lock()
_EXPLAINERS: dict[tuple, Any] = {}
_TABLES: dict[tuple, tuple[dict[str, int], np.ndarray]] = {}


def _stamp(path: Path) -> tuple:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def explainer(layout: Layout) -> Any:
    """The data folder's :class:`~..features.explain.Explainer` (loaded once per process);
    raises :class:`NoSpatialMap` for features that were your own vectors."""
    model = read_state(layout.home, "image_features").get("model") or {
        "backbone": "efficientnet_lite0", "weights": None, "options": {}}
    if "vectors" in model:
        raise NoSpatialMap(f"these features are your own vectors ({Path(model['vectors']).name})"
                           ": there is no spatial map to explain why two images are close")
    pca = layout.pca_model
    key = (repr(sorted(model.items())), _stamp(pca) if pca.exists() else None)
    with _LOCK:
        if key not in _EXPLAINERS:
            from xdeg_pipeline.core.features.explain import Explainer
            from xdeg_pipeline.core.graph.pca import PcaModel

            opts = dict(model.get("options") or {})
            for name in ("mean", "std"):
                if opts.get(name) is not None:
                    opts[name] = tuple(opts[name])
            fitted = PcaModel.load(pca) if pca.exists() else None
            _EXPLAINERS.clear()
            _EXPLAINERS[key] = Explainer(
                model["backbone"], model.get("weights"), ModelOptions(**opts),
                layout.model_cache / "explain",
                None if fitted is None else (fitted.mean, fitted.components),
                str(read_state(layout.home, "pca_features").get("output_fingerprint", ""))[:12])
        return _EXPLAINERS[key]


def _reduced(layout: Layout) -> tuple[dict[str, int], np.ndarray]:
    key = _stamp(layout.pca_features)
    with _LOCK:
        if key not in _TABLES:
            hashes, Z = read_feature_table(layout.pca_features)
            _TABLES.clear()
            _TABLES[key] = ({h: i for i, h in enumerate(hashes)}, np.asarray(Z, np.float32))
        return _TABLES[key]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def neighbour_facts(layout: Layout, hash_a: str, hash_b: str) -> dict:
    """The pair's distance (as the kNN measures it) and each one's rank among the other's
    neighbours (1: the nearest)."""
    index, Z = _reduced(layout)
    ia, ib = index[hash_a], index[hash_b]
    d = float(np.linalg.norm(Z[ia] - Z[ib]))

    def rank(i: int, j: int) -> int:
        dist = np.linalg.norm(Z - Z[i], axis=1)
        dist[i] = np.inf
        return int((dist < dist[j]).sum()) + 1

    return {"distance": round(d, 6), "rank_a": rank(ia, ib), "rank_b": rank(ib, ia)}


def sentence(name_a: str, name_b: str, facts: dict) -> str:
    """One sentence: the distance and the rank of each image among the other's neighbours."""
    return (f"{name_a} and {name_b} are at distance {facts['distance']:.3f}: {name_b} is the "
            f"{ordinal(facts['rank_a'])} nearest neighbour of {name_a}, and {name_a} the "
            f"{ordinal(facts['rank_b'])} nearest of {name_b}.")


def explain_pair(layout: Layout, a: tuple[str, str, Path], b: tuple[str, str, Path],
                 with_pixels: bool = False) -> tuple[dict, Any]:
    """``(answer, maps or None)`` for images ``a`` and ``b`` given as (name, hash, file).

    The answer holds the names, hashes, distance, ranks and sentence; ``spatial`` False and a
    ``message`` where there is no map (your own vectors, an ``onnx:`` model)."""
    facts = neighbour_facts(layout, a[1], b[1])
    answer = {"a": a[0], "b": b[0], "a_hash": a[1], "b_hash": b[1], **facts,
              "sentence": sentence(a[0], b[0], facts)}
    try:
        ex = explainer(layout)
        maps = ex.explain(a[2], a[1], b[2], b[1], with_pixels=with_pixels)
    except NoSpatialMap as exc:
        return {**answer, "spatial": False, "message": str(exc)}, None
    answer.update(spatial=True, model=ex.key, exact=ex.exact, **maps.as_dict())
    if not ex.exact:
        answer["message"] = ("approximate: this model's embedding is not the mean of its last "
                             "feature map (a class token or a layer after the pooling)")
    return answer, maps
