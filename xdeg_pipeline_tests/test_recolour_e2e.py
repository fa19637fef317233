"""A collection holding one drawing in five skin tones: the build marks the graph's edges
between them as recoloured, and no chain between two other pictures steps between them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.storage.state import read_state
from xdeg_pipeline_tests.helpers.cli_builds import xdeg_build
from xdeg_pipeline_tests.helpers.collections import make_collection
from xdeg_pipeline_tests.helpers.drawings import SKIN, face


def test_the_build_marks_the_steps_between_one_drawings_colourings(tmp_path: Path) -> None:
    images, home = tmp_path / "images", tmp_path / "home"
    make_collection(images, 16)
    for i, tone in enumerate(SKIN):
        face(tone).save(images / f"face_{i}.png")
    face(SKIN[0], smile=False).save(images / "other_face.png")
    code, out, err = xdeg_build(images, home)
    assert code == 0, err
    assert "image_outlines" in out and "recoloured" in out
    graph = load_graph(home / "similarity_graph.pkl", allowed_root=home)
    names = graph.vs["name"]
    faces = {names.index(f"face_{i}.png") for i in range(len(SKIN))}
    marked = {frozenset(e.tuple) for e in graph.es if e["recolour"]}
    assert marked and all(pair <= faces for pair in marked)  # only between the tones
    between = [e for e in graph.es if set(e.tuple) <= faces]
    assert all(e["recolour"] for e in between)  # every edge between two tones
    assert graph["params"]["recoloured_edges"] == len(marked)
    near = read_state(home, "near_duplicates")  # what the UI shows: a strip of the colourings
    assert near["recolour_groups"] == 1 and near["images_in_recolour_groups"] == len(SKIN)
    (strip,) = near["recolour_examples"]
    assert Path(strip).name == "recolour-0.png" and Path(strip).stat().st_size > 0
    finder = PathFinder(graph)
    others = [v for v in range(graph.vcount()) if v not in faces]
    rng = np.random.default_rng(0)
    for _ in range(20):
        s, t = (int(v) for v in rng.choice(others, 2, replace=False))
        chain = finder.find(s, t)[0].vertices
        assert not any(frozenset(p) in marked for p in zip(chain[:-1], chain[1:]))
