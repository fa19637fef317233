"""Thumbnails (content-addressed, made once) and the atlases packed from them."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from xdeg_pipeline.core.pictures.atlases import (
    assign_slots,
    build_atlases,
    load_atlases,
    remove_unlisted,
    save_atlases,
)
from xdeg_pipeline.core.pictures.thumbnails import ThumbnailStore, is_content_hash


def items(folder: Path, n: int, start: int = 0) -> list[tuple[str, Path]]:
    """``n`` distinct 200 x 100 pictures (wider than high) and their content hashes."""
    out = []
    for i in range(start, start + n):
        path = folder / f"img_{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        img = Image.new("RGB", (200, 100), (i % 256, (7 * i) % 256, 90))
        img.paste((250, 250, 250), (10, 10, 10 + i % 150, 60))
        img.save(path)
        out.append((hashlib.sha256(path.read_bytes()).hexdigest(), path))
    return out


def test_thumbnails_are_made_once(tmp_path: Path) -> None:
    store = ThumbnailStore(tmp_path / "thumbs", size=64)
    batch = items(tmp_path / "img", 5)
    first = store.build(batch, workers=1)
    assert (first.made, first.reused, first.failed) == (5, 0, {})
    with Image.open(store.path(batch[0][0])) as im:
        assert im.format == "WEBP" and im.size == (64, 32)  # fits the square, aspect kept
    mtime = store.path(batch[0][0]).stat().st_mtime_ns
    more = batch + items(tmp_path / "img", 2, start=5)
    second = store.build(more, workers=1)
    assert (second.made, second.reused) == (2, 5)
    assert store.path(batch[0][0]).stat().st_mtime_ns == mtime  # never rewritten


def test_the_store_lists_what_it_holds_and_a_lost_file_is_made_again(tmp_path: Path) -> None:
    store = ThumbnailStore(tmp_path / "thumbs", size=64)
    assert store.present() == set()  # no folder yet
    batch = items(tmp_path / "img", 4)
    store.build(batch, workers=1)
    hashes = {h for h, _ in batch}
    (store.dir / "not-a-thumbnail.txt").write_text("x")  # other files are not thumbnails
    (store.path(batch[0][0]).parent / "notes.txt").write_text("x")
    assert store.present() == hashes
    store.path(batch[1][0]).unlink()
    assert store.present() == hashes - {batch[1][0]}
    again = store.build(batch, workers=1)
    assert (again.made, again.reused) == (1, 3) and store.has(batch[1][0])


def test_worker_threads_give_the_same_files(tmp_path: Path) -> None:
    batch = items(tmp_path / "img", 70)  # more than one chunk
    one, two = ThumbnailStore(tmp_path / "a", 48), ThumbnailStore(tmp_path / "b", 48)
    one.build(batch, workers=1)
    assert two.build(batch, workers=2).made == 70
    for h, _ in batch:
        assert one.read(h) == two.read(h)


def test_broken_files_are_reported_not_fatal(tmp_path: Path) -> None:
    store = ThumbnailStore(tmp_path / "thumbs", 64)
    good = items(tmp_path / "img", 2)
    bad = tmp_path / "img" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    gone = ("f" * 64, tmp_path / "img" / "missing.png")
    stats = store.build([*good, ("e" * 64, bad), gone], workers=1)
    assert stats.made == 2
    assert set(stats.failed) == {"e" * 64, "f" * 64}
    assert stats.failed["e" * 64] in ("corrupt", "truncated")


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "abc", "", "0" * 63 + "/"])
def test_only_content_hashes_name_files(tmp_path: Path, bad: str) -> None:
    assert not is_content_hash(bad)
    with pytest.raises(ValueError):
        ThumbnailStore(tmp_path).path(bad)


def test_slots_are_kept_and_holes_reused() -> None:
    first = assign_slots(["a", "b", "c", "d", "e"], None, per_sheet=4)
    assert first == {"a": (0, 0), "b": (0, 1), "c": (0, 2), "d": (0, 3), "e": (1, 0)}
    import pandas as pd

    prev = pd.DataFrame([(h, s, c) for h, (s, c) in first.items()],
                        columns=["content_hash", "sheet", "slot"])
    second = assign_slots(["a", "c", "d", "e", "f", "g"], prev, per_sheet=4)
    assert {h: second[h] for h in "acde"} == {h: first[h] for h in "acde"}
    assert second["f"] == (0, 1) and second["g"] == (1, 1)  # b's hole, then the next cell


def test_atlases_rewrite_only_changed_sheets(tmp_path: Path) -> None:
    store = ThumbnailStore(tmp_path / "thumbs", 32)
    batch = items(tmp_path / "img", 6)
    store.build(batch, workers=1)
    folder = tmp_path / "atlas"
    hashes = sorted(h for h, _ in batch)
    first = build_atlases(hashes[:5], store, folder, None, cell=16, side=2)
    index_file, sheets_file = folder / "index.parquet", folder / "sheets.parquet"
    save_atlases(first, index_file, sheets_file)
    assert first.written == 2 and list(first.sheets["count"]) == [4, 1]
    for sha in first.sheets["sha256"]:
        data = (folder / f"{sha}.webp").read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha
        with Image.open(io.BytesIO(data)) as im:
            assert im.width == 32
    loaded = load_atlases(index_file, sheets_file)
    assert loaded.index.equals(first.index)
    second = build_atlases(hashes, store, folder, loaded, cell=16, side=2)
    assert second.written == 1  # only the second sheet gained an image
    assert second.sheets["sha256"].iloc[0] == first.sheets["sha256"].iloc[0]
    save_atlases(second, index_file, sheets_file)
    assert remove_unlisted(load_atlases(index_file, sheets_file), folder) == 1  # the old one
    assert remove_unlisted(None, folder) == 0
    assert sorted(p.stem for p in folder.glob("*.webp")) == sorted(second.sheets["sha256"])


def test_atlas_cells_drawn_in_threads_give_the_same_sheets(tmp_path: Path) -> None:
    store = ThumbnailStore(tmp_path / "thumbs", 32)
    batch = items(tmp_path / "img", 20)
    store.build(batch, workers=2)
    hashes = sorted(h for h, _ in batch) + ["d" * 64]  # one without a thumbnail: a grey cell
    one = build_atlases(hashes, store, tmp_path / "one", None, cell=16, side=3, workers=1)
    four = build_atlases(hashes, store, tmp_path / "four", None, cell=16, side=3, workers=4)
    assert one.sheets["sha256"].tolist() == four.sheets["sha256"].tolist()
    assert len(one.sheets) == 3  # 21 cells, 9 per sheet


def test_a_failing_write_stops_the_build(tmp_path: Path, monkeypatch) -> None:
    """A bad image is reported; a write that fails (disk full) is not swallowed as one."""
    import xdeg_pipeline.core.images.thumbnail as thumbs  # where the files are written

    def full(data, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(thumbs, "write_bytes", full)
    store = ThumbnailStore(tmp_path / "thumbs", 32)
    with pytest.raises(OSError, match="No space"):
        store.build(items(tmp_path / "img", 70), workers=2)


def test_a_cell_is_the_thumbnail_reduced_by_its_whole_factor(tmp_path: Path) -> None:
    """A thumbnail twice the cell is box-averaged (2 x 2 pixels to one); one less than twice
    the cell is fitted by Lanczos; either keeps its aspect."""
    from xdeg_pipeline.core.pictures.atlases import _cell

    store = ThumbnailStore(tmp_path / "thumbs", 32)
    (h, _), = items(tmp_path / "img", 1)
    store.build([(h, tmp_path / "img" / "img_0.png")], workers=1)
    thumb = store.open(h)
    assert thumb.size == (32, 16)
    half = _cell(store, 16, h)
    assert half.size == (16, 8) and half.tobytes() == thumb.reduce(2).tobytes()
    fitted = _cell(store, 20, h)
    assert fitted.size == (20, 10)
    assert fitted.tobytes() == thumb.resize((20, 10), Image.Resampling.LANCZOS).tobytes()
    assert _cell(store, 16, "e" * 64) is None



def test_the_last_sheet_drawn_again_draws_only_its_changed_cells(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xdeg_pipeline.core.pictures import atlases

    store = ThumbnailStore(tmp_path / "thumbs", 32)
    batch = dict(items(tmp_path / "img", 31))
    hashes = sorted(batch)
    late, gone = hashes[20], hashes[22]  # in the last sheet (16 a sheet): grey first; removed
    store.build([(h, batch[h]) for h in hashes if h != late], workers=1)
    folder = tmp_path / "atlas"
    first = build_atlases(hashes[:28], store, folder, None, cell=16, side=4)
    assert (folder / atlases.CANVAS).is_file() and list(first.sheets["count"]) == [16, 12]
    store.build([(late, batch[late])], workers=1)
    drawn: list[str] = []
    real = atlases._cell
    monkeypatch.setattr(atlases, "_cell", lambda s, c, h: drawn.append(h) or real(s, c, h))
    now = [h for h in hashes if h != gone]
    second = build_atlases(now, store, folder, first, cell=16, side=4)
    assert sorted(drawn) == sorted([late, *hashes[28:]])  # not the 13 others of the sheet
    # the same slots drawn whole, in a folder without the canvas: the very same bytes
    whole = build_atlases(now, store, tmp_path / "whole", first, cell=16, side=4)
    assert whole.index.equals(second.index) and whole.written == 2
    assert whole.sheets["sha256"].tolist() == second.sheets["sha256"].tolist()
    fewer = [h for h in now if h not in hashes[25:]]  # the last sheet shrinks by a row
    third = build_atlases(fewer, store, folder, second, cell=16, side=4)
    whole = build_atlases(fewer, store, tmp_path / "whole3", second, cell=16, side=4)
    assert whole.sheets["sha256"].tolist() == third.sheets["sha256"].tolist()
    (folder / atlases.CANVAS).write_bytes(b"damaged")  # drawn whole, not from it
    drawn.clear()
    build_atlases(fewer + hashes[25:27], store, folder, third, cell=16, side=4)
    assert len(drawn) == len(fewer) + 2 - 16


def test_a_disk_full_while_the_last_sheet_is_drawn_keeps_what_was_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills at the canvas's write (a real tmpfs) or at the sheet's after it: the
    error is raised, the canvas is the one before or the one drawn whole, no temporary file
    stays, and the sheets drawn once there is room are those of drawing all cells afresh."""
    from xdeg_pipeline.core.pictures import atlases
    from xdeg_pipeline_tests.helpers.small_disk import fill, small_tmpfs

    store = ThumbnailStore(tmp_path / "thumbs", 32)
    batch = dict(items(tmp_path / "img", 30))
    hashes = sorted(batch)
    store.build(list(batch.items()), workers=1)
    whole = build_atlases(hashes, store, tmp_path / "whole", None, cell=16, side=4).sheets
    with small_tmpfs(tmp_path / "small", "1m") as disk:
        folder = disk / "atlas"
        first = build_atlases(hashes[:20], store, folder, None, cell=16, side=4)
        canvas = (folder / atlases.CANVAS).read_bytes()
        filler = fill(disk)
        with pytest.raises(OSError, match="No space left"):
            build_atlases(hashes, store, folder, first, cell=16, side=4)
        assert (folder / atlases.CANVAS).read_bytes() == canvas
        assert not list(folder.glob(".*.tmp"))
        filler.unlink()

        def full(data, target):  # the canvas written, then the sheet's write fails
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(atlases, "write_bytes", full)
        with pytest.raises(OSError, match="No space left"):
            build_atlases(hashes, store, folder, first, cell=16, side=4)
        assert (folder / atlases.CANVAS).read_bytes() != canvas
        monkeypatch.undo()
        again = build_atlases(hashes, store, folder, first, cell=16, side=4)
        assert again.sheets["sha256"].tolist() == whole["sha256"].tolist()
