"""Where each image of raw_images is on disk: one file per content hash, its first name's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xdeg_pipeline.core.images.files import ImageFiles, files_by_hash


def test_one_file_per_image_its_first_names(tmp_path: Path) -> None:
    manifest = pd.DataFrame({"name": ["b/x.png", "a/x.png", "c.png", "d.png"],
                             "content_hash": ["h1", "h1", "h2", "h3"]})
    files = files_by_hash(manifest, tmp_path)
    assert dict(files) == {"h1": tmp_path / "a/x.png", "h2": tmp_path / "c.png",
                           "h3": tmp_path / "d.png"}
    assert list(files) == ["h1", "h2", "h3"] and len(files) == 3 and "h4" not in files


def test_a_manifest_records_its_files(tmp_path: Path) -> None:
    manifest = pd.DataFrame({"name": ["one.jpg", "two.jpg", "three.jpg"],
                             "content_hash": ["h1", "h2", "h3"],
                             "path": ["downloads/1.jpg", "/elsewhere/2.jpg", None]})
    files = files_by_hash(manifest, tmp_path)
    assert files["h1"] == tmp_path / "downloads/1.jpg"
    assert files["h2"] == Path("/elsewhere/2.jpg")
    assert files["h3"] == tmp_path / "three.jpg"  # nothing recorded: under the root
    named = ImageFiles(manifest, tmp_path)
    assert named.of("one.jpg") == tmp_path / "downloads/1.jpg"
    assert named.of("three.jpg") == tmp_path / "three.jpg"
    assert named.of("not/listed.png") == tmp_path / "not/listed.png"
    assert ImageFiles(manifest.drop(columns="path"), tmp_path).of("one.jpg") == tmp_path / "one.jpg"
