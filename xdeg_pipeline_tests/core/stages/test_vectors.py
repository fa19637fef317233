"""The vectors table: matched by content hash or name, extra rows counted, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xdeg_pipeline.core.stages.vectors import NO_VECTOR, VectorsError, read_vectors, vector_features

MANIFEST = pd.DataFrame({"name": ["a.png", "b.png", "c.png"], "content_hash": ["h1", "h2", "h3"]})


def test_rows_matched_by_name_and_extra_rows_counted(tmp_path: Path) -> None:
    path = tmp_path / "v.parquet"
    pd.DataFrame({"name": ["a.png", "c.png", "zz.png"],
                  "emb": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]}).to_parquet(path)
    table = read_vectors(path, "emb", MANIFEST)
    assert table.key == "vectors-emb-d2" and table.extra_rows == 1
    assert table.extra_examples == ["zz.png"] and set(table.by_hash) == {"h1", "h3"}
    items = (("h1", "a"), ("h2", "b"), ("h3", "c"))
    ok, X, failed = vector_features(items, table.blobs(["h1", "h2", "h3"]), table.dim)
    assert ok == ["h1", "h3"] and failed == {"h2": NO_VECTOR}
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert table.digest(["h1"]) != table.digest(["h2"])


@pytest.mark.parametrize("frame, match", [
    (pd.DataFrame({"file": ["a"], "vector": [[1.0]]}), "content_hash or name"),
    (pd.DataFrame({"name": ["a", "b"], "vector": [[1.0], [1.0, 2.0]]}), "one length"),
])
def test_an_unusable_table_is_one_line_naming_the_setting(tmp_path, frame, match) -> None:
    path = tmp_path / "v.parquet"
    frame.to_parquet(path)
    with pytest.raises(VectorsError, match=match) as err:
        read_vectors(path, "vector", MANIFEST)
    assert "XDEG_VECTORS" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(VectorsError, match="cannot be read"):
        read_vectors(tmp_path / "missing.parquet", "vector", MANIFEST)
