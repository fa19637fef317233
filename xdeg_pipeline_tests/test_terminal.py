"""What ``xdeg`` prints: an aligned summary table of the build, rejected images, chains."""

from __future__ import annotations

from xdeg_pipeline.core.query import ChainResult, PathRequest
from xdeg_pipeline.terminal import chain_lines, rejected_lines, show, summary_table

SUMMARY = {
    "raw_images": {"images": 4495, "rejected": 2, "seconds": 4.355},
    "image_features": {"images": 4247, "run_images_computed": 4247, "run_images_reused": 0,
                       "run_images_failed": 0, "run_images_per_second": 77.06, "seconds": 55.1},
    "pca_features": {"images": 4247, "dim": 129, "axes": 128, "explained_variance": 0.8461,
                     "refit": True, "seconds": 1.582},
    "knn_edges": {"images": 4247, "edges": 84940, "k": 20, "seconds": 0.614},
    "similarity_graph": {"vertices": 4247, "edges": 67392, "components": 1, "seconds": 2.682},
    "checks": {"a": {"passed": True}, "b": {"passed": True}, "c": {"passed": False}},
    "run_id": "r-1",
    "seconds": 66.4,
}


def test_summary_table_is_aligned_with_each_stage_key_figure() -> None:
    lines = summary_table(SUMMARY)
    assert lines == [
        "stage             images  seconds  result",
        "raw_images          4495     4.36  2 rejected",
        "image_features      4247    55.10  4247 computed, 0 reused (77.1 images/s)",
        "pca_features        4247     1.58  128 axes and the residual, 84.6% of the variance, "
        "refitted",
        "knn_edges           4247     0.61  84940 edges, k=20",
        "similarity_graph    4247     2.68  67392 edges, 1 component",
        "checks: 2 of 3 passed; failed: c",
        "total: 66.40 s (run r-1)",
    ]


def test_downloads_and_failures_in_the_table() -> None:
    summary = {"raw_images": {"images": 30, "rejected": 6, "downloaded": 30, "cached": 0,
                              "download_failed": 6, "seconds": 3.0},
               "image_features": {"images": 29, "run_images_computed": 30, "run_images_reused": 0,
                                  "run_images_failed": 1, "seconds": 2.0},
               "checks": {}}
    lines = summary_table(summary)
    assert lines[1].endswith("6 rejected; 30 downloaded, 0 cached, 6 failed to download")
    assert lines[2].endswith("30 computed, 0 reused, 1 failed")
    assert lines[-1] == "checks: 0 of 0 passed"
    iiif = {"images": 9, "rejected": 3, "downloaded": 9, "cached": 0, "download_failed": 1,
            "iiif_manifests": 4, "iiif_canvases": 11, "iiif_problems": 2, "seconds": 1.0}
    assert summary_table({"raw_images": iiif, "checks": {}})[1].endswith(
        "; IIIF: 4 manifests, 11 canvases, 2 problems (stage iiif)")


def test_rejected_lines_escape_names() -> None:
    rejected = {"count": 1, "by_reason": {"empty": 1},
                "rows": [{"name": "a\nb.png", "stage": "scan", "reason": "empty",
                          "detail": "zero-byte file"}]}
    assert rejected_lines(rejected) == ["rejected_images: 1 {'empty': 1}",
                                        "  a\\nb.png: scan empty (zero-byte file)"]
    assert show("tab\there\x1b[31m") == "tab\\there\\x1b[31m"


def test_thumbnails_and_map_rows_say_what_the_build_did() -> None:
    summary = {
        "thumbnails": {"images": 3804, "made": 25, "reused": 3779, "sheets": 4,
                       "sheets_drawn": 1, "seconds": 0.79},
        "collection_map": {"images": 3804, "mode": "place", "placed": 25, "kept": 3779,
                           "layout_seconds": 1.59, "seconds": 2.65},
        "checks": {},
    }
    lines = summary_table(summary)
    assert lines[1] == "thumbnails        3804     0.79  25 made, 3779 reused, 1 atlas sheet drawn"
    assert lines[2] == ("collection_map    3804     2.65  25 placed into the map, "
                        "3779 kept in place")
    fit = {"collection_map": {"images": 10, "mode": "fit", "layout_seconds": 5.04,
                              "seconds": 5.5},
           "thumbnails": {"images": 10, "sheets": 1, "seconds": 0.01}, "checks": {}}
    lines = summary_table(fit)
    assert lines[1].endswith("unchanged") and lines[1].startswith("thumbnails")
    assert lines[2].endswith("laid out (t-SNE 5.0 s)")


def test_chain_lines_end_with_the_credits_of_credited_images() -> None:
    records = {"a.png": {"label": "Sea", "credit": "Gift\x1b[31m of A", "rights": None},
               "b.png": {"label": "Sky", "credit": None, "rights": None}}
    result = ChainResult(PathRequest("a", "b"), 0, ["a.png", "b.png"], [0.5], 0.5, 0.5,
                         images=records)
    lines = chain_lines(result)
    assert lines[-1] == "  Credits: 1 Sea — Gift\\x1b[31m of A"  # control characters escaped
    result.images = {}
    assert chain_lines(result)[-1].startswith("  largest step")


def test_outlines_and_recoloured_edges_in_the_table() -> None:
    summary = {"image_outlines": {"images": 12, "made": 2, "reused": 9, "without_outline": 1,
                                  "seconds": 0.1},
               "similarity_graph": {"vertices": 12, "edges": 80, "recoloured_edges": 6,
                                    "components": 1, "seconds": 0.2},
               "checks": {}}
    lines = summary_table(summary)
    assert lines[1].endswith("2 made, 9 reused, 1 without a thumbnail")
    assert lines[2].endswith("80 edges (6 recoloured), 1 component")
    assert summary_table({"image_outlines": {"images": 3, "seconds": 0.0}, "checks": {}}
                         )[1].endswith("unchanged")
