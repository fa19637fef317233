"""A small synthetic data folder whose images carry metadata as a IIIF collection or a CSV
manifest records it (``image_metadata.parquet``: label, creator, date, collection and the JSON
``metadata`` of the other fields), for the tests of filters and metadata search.

Built in a few seconds (:func:`~.synthetic_home.build_synthetic_home`: real files, thumbnails,
map and graph, random features). Two images by "Lonely Painter" are not adjacent in the graph:
the filter ``creator=Lonely Painter`` lets them both through but holds no chain between them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.graph.build import load_graph
from xdeg_pipeline.core.storage.atomic import write_parquet
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline_tests.helpers.synthetic_home import build_synthetic_home

CREATORS = ("Rembrandt van Rijn", "Hilma af Klint", "Paul Klee")
LONELY = "Lonely Painter"


def year_of(i: int) -> int:
    """The year of image ``i`` (1500-1999, spread)."""
    return 1500 + (i * 37) % 500


def _row(i: int, name: str) -> dict:
    return {
        "name": name,
        "label": f"Work {i:03d}",
        "creator": CREATORS[i % 3],
        "date": f"c. {year_of(i)}-{year_of(i) + 5}",
        "collection": "Museum / Paintings" if i % 2 else "Museum / Prints",
        "link": f"https://museum.example/object/{i}",
        "metadata": json.dumps({"Medium": "oil on canvas" if i % 2 else "etching",
                                "Inventory": [f"INV-{i:04d}", f"old-{i}"]}),
    }


def build_metadata_home(root: Path, n: int = 150) -> dict:
    """The folder, its names, the metadata rows and the two lonely images' names."""
    home = build_synthetic_home(root, n=n, seed=3)
    layout = Layout(home["home"])
    raw = pd.read_parquet(layout.raw_images)
    raw["url"] = [f"https://images.example/{n}" for n in raw["name"]]  # as a manifest records
    write_parquet(raw, layout.raw_images)
    rows = [_row(i, name) for i, name in enumerate(home["names"])]
    graph = load_graph(layout.similarity_graph, allowed_root=layout.home)
    vertex = {name: v for v, name in enumerate(graph.vs["name"])}
    a = home["names"][5]
    b = next(m for m in home["names"][60:] if not graph.are_adjacent(vertex[a], vertex[m]))
    for row in rows:
        if row["name"] in (a, b):
            row["creator"] = LONELY
    write_parquet(pd.DataFrame(rows).astype(str), layout.image_metadata)
    return {**home, "rows": rows, "lonely": (a, b)}
