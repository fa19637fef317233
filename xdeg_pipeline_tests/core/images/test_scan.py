"""Tests of image intake: load_rgb on odd and broken files, scan_collection, rescans."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFile, ImageOps, JpegImagePlugin

from xdeg_pipeline.core.images import decode as image_decode
from xdeg_pipeline.core.images import scan as images
from xdeg_pipeline.core.images.decode import content_hash
from xdeg_pipeline.core.images.scan import (
    IMAGE_EXTENSIONS,
    MANIFEST_COLUMNS,
    REASONS,
    REJECTED_COLUMNS,
    ImageRejected,
    load_rgb,
    name_to_path,
    scan_collection,
)
from xdeg_pipeline_tests.helpers import faults

BOMB_WARNING = "ignore::PIL.Image.DecompressionBombWarning"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def px(im: Image.Image, x: int, y: int) -> np.ndarray:
    return np.asarray(im, dtype=np.int16)[y, x]


@pytest.fixture(scope="module")
def fault_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("faults")
    return root, faults.make_fault_collection(root)


@pytest.fixture(scope="module")
def fault_scan(fault_dir: tuple[Path, dict[str, str]]) -> images.ScanResult:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return scan_collection(fault_dir[0])


# --------------------------------------------------------------------------- load_rgb: valid


@pytest.mark.parametrize("name", sorted(faults.ok_files()))
@pytest.mark.parametrize("max_side", [None, 16])
def test_every_odd_but_valid_file_loads_as_rgb(tmp_path: Path, name: str, max_side: int | None):
    path = write(tmp_path / name, faults.ok_files()[name])
    im = load_rgb(path, max_side=max_side)
    assert im.mode == "RGB"
    assert im.width >= 1 and im.height >= 1
    if max_side:
        assert max(im.size) <= max_side
    np.asarray(im).sum()  # the pixels are really there


def test_16bit_grey_png_is_scaled_not_clipped_to_white(tmp_path: Path):
    path = write(tmp_path / "g.png", faults.ok_files()["ok/grey16.png"])
    assert Image.open(path).mode.startswith("I;16")  # really a 16-bit file
    arr = np.asarray(load_rgb(path), dtype=np.int16)
    row = arr[0, :, 0]
    assert row[0] <= 2 and row[-1] >= 253
    assert 110 <= row[len(row) // 2] <= 145
    assert np.all(np.diff(row) >= 0)  # a ramp, not white
    assert np.all(arr[..., 0] == arr[..., 1]) and np.all(arr[..., 1] == arr[..., 2])


@pytest.mark.parametrize("name", ["ok/grey16.tiff", "ok/float.tiff"])
def test_16bit_and_float_tiff_ramps(tmp_path: Path, name: str):
    path = write(tmp_path / "x.tiff", faults.ok_files()[name])
    row = np.asarray(load_rgb(path), dtype=np.int16)[0, :, 0]
    assert row[0] <= 2 and row[-1] >= 253 and 110 <= row[32] <= 145


def test_16bit_rgb_png(tmp_path: Path):
    im = load_rgb(write(tmp_path / "c.png", faults.rgb16_png()))
    assert im.size == (32, 8)
    left, right = px(im, 0, 0), px(im, 31, 0)
    assert left[0] <= 2 and right[0] >= 253
    assert abs(left[2] - 30000 / 257) <= 2


def test_cmyk_jpeg_colours(tmp_path: Path):
    path = write(tmp_path / "c.jpg", faults.ok_files()["ok/cmyk.jpg"])
    assert Image.open(path).mode == "CMYK"
    r, g, b = px(load_rgb(path), 16, 16)
    assert r >= 230 and g <= 25 and b <= 25  # C=0 M=Y=100%: red


def test_rgba_composited_on_white(tmp_path: Path):
    im = load_rgb(write(tmp_path / "a.png", faults.ok_files()["ok/rgba.png"]))
    assert list(px(im, 2, 8)) == [255, 0, 0]  # opaque red stays red
    assert list(px(im, 13, 8)) == list(images.BACKGROUND)  # transparent -> background
    webp = load_rgb(write(tmp_path / "a.webp", faults.ok_files()["ok/rgba.webp"]))
    assert list(px(webp, 13, 8)) == list(images.BACKGROUND)


def test_palette_transparency_and_la(tmp_path: Path):
    im = load_rgb(write(tmp_path / "p.png", faults.ok_files()["ok/palette_transparent.png"]))
    assert list(px(im, 2, 2)) == list(images.BACKGROUND)  # transparent index
    assert list(px(im, 12, 2)) == [0, 0, 255]
    la = load_rgb(write(tmp_path / "la.png", faults.ok_files()["ok/la.png"]))
    assert np.all(np.asarray(la) == 255)  # fully transparent black -> white


def test_exif_rotation_makes_the_landscape_upright(tmp_path: Path):
    path = write(tmp_path / "r.jpg", faults.rotated_portrait(6))
    raw = Image.open(path)
    assert raw.size == (40, 80)
    im = load_rgb(path)
    assert im.size == (80, 40)
    assert px(im, 70, 20).min() >= 240 and px(im, 10, 20).max() <= 15  # white on the right
    reference = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    assert np.abs(np.asarray(im, np.int16) - np.asarray(reference, np.int16)).max() <= 1
    small = load_rgb(path, max_side=20)  # draft + thumbnail + rotation
    assert small.size == (20, 10)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(tmp_path: Path, orientation: int):
    path = write(tmp_path / "o.jpg", faults.rotated_portrait(orientation))
    ours = np.asarray(load_rgb(path), np.int16)
    ref = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), np.int16)
    assert ours.shape == ref.shape and np.abs(ours - ref).max() <= 1


@pytest.mark.parametrize("name", ["ok/animated.gif", "ok/animated.webp"])
def test_animation_gives_first_frame(tmp_path: Path, name: str):
    path = write(tmp_path / Path(name).name, faults.ok_files()[name])
    assert getattr(Image.open(path), "n_frames", 1) == 3
    r, g, b = px(load_rgb(path), 5, 5)
    assert r >= 250 and g <= 5 and b <= 5


def test_tiny_and_extreme_aspect_ratios(tmp_path: Path):
    one = load_rgb(write(tmp_path / "1.png", faults.ok_files()["ok/one_pixel.png"]), max_side=256)
    assert one.size == (1, 1) and list(px(one, 0, 0)) == [10, 200, 30]
    wide = tmp_path / "w.png"
    write(wide, faults.ok_files()["ok/wide_4000x1.png"])
    assert load_rgb(wide, max_side=256).size == (256, 1)
    tall = write(tmp_path / "t.png", faults.ok_files()["ok/tall_1x4000.png"])
    assert load_rgb(tall, max_side=256).size == (1, 256)
    assert load_rgb(tall).size == (1, 4000)


def test_max_side_uses_jpeg_draft_and_keeps_aspect(tmp_path: Path, monkeypatch):
    path = write(tmp_path / "big.jpg", faults.encode(faults.pattern(2000, 1000), "JPEG"))
    drafts: list[tuple] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        drafts.append((mode, size))
        return real_draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    im = load_rgb(path, max_side=256)
    assert im.size == (256, 128)
    assert drafts == [("RGB", (256, 256))]
    assert load_rgb(path).size == (2000, 1000)


def test_png_content_with_jpg_extension_loads(tmp_path: Path):
    im = load_rgb(write(tmp_path / "x.jpg", faults.ok_files()["ok/png_named.jpg"]))
    assert im.size == (64, 48)


# --------------------------------------------------------------------------- load_rgb: broken


@pytest.mark.filterwarnings(BOMB_WARNING)
@pytest.mark.parametrize("name", sorted(faults.bad_files()))
@pytest.mark.parametrize("max_side", [None, 256])
def test_every_broken_file_is_rejected_with_its_reason(tmp_path: Path, name: str, max_side):
    data, reason = faults.bad_files()[name]
    path = write(tmp_path / Path(name).name, data)
    with pytest.raises(ImageRejected) as info:
        load_rgb(path, max_side=max_side)
    assert info.value.reason == reason, info.value.detail
    assert reason in REASONS


def test_truncation_is_not_silently_padded():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.filterwarnings(BOMB_WARNING)
@pytest.mark.parametrize("maker", [faults.bomb_header_png, faults.bomb_real_png])
def test_decompression_bomb_rejected_before_any_decoding(tmp_path: Path, monkeypatch, maker):
    path = write(tmp_path / "bomb.png", maker())
    assert path.stat().st_size < 200_000

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageRejected) as info:
        load_rgb(path)
    assert info.value.reason == "decompression_bomb"


def test_pixel_limit_is_explicit(tmp_path: Path):
    path = write(tmp_path / "p.png", faults.encode(faults.pattern(100, 100), "PNG"))
    with pytest.raises(ImageRejected, match="decompression_bomb"):
        load_rgb(path, max_pixels=100 * 100 - 1)
    assert load_rgb(path, max_pixels=100 * 100).size == (100, 100)


def test_missing_fifo_directory_and_symlinks(tmp_path: Path):
    with pytest.raises(ImageRejected) as info:
        load_rgb(tmp_path / "nope.png")
    assert info.value.reason == "vanished"
    os.mkfifo(tmp_path / "f.jpg")
    with pytest.raises(ImageRejected) as info:  # how long it takes: benchmarks.guards
        load_rgb(tmp_path / "f.jpg")  # must not block waiting for a writer
    assert info.value.reason == "unreadable" and "FIFO" in info.value.detail
    (tmp_path / "d.jpg").mkdir()
    with pytest.raises(ImageRejected, match="unreadable"):
        load_rgb(tmp_path / "d.jpg")
    target = write(tmp_path / "real.png", faults.encode(faults.pattern(), "PNG"))
    (tmp_path / "link.png").symlink_to(target)
    (tmp_path / "loop.png").symlink_to("loop.png")
    for link in ("link.png", "loop.png"):
        with pytest.raises(ImageRejected) as info:
            load_rgb(tmp_path / link)
        assert info.value.reason == "symlink"


def test_permission_denied_is_unreadable(tmp_path: Path, monkeypatch):
    path = write(tmp_path / "locked.png", faults.encode(faults.pattern(), "PNG"))
    path.chmod(0)
    if os.geteuid() != 0:  # root reads mode-000 files; the simulation below covers root
        with pytest.raises(ImageRejected, match="unreadable"):
            load_rgb(path)
    real_open = os.open

    def denied(p, *args, **kwargs):
        if os.fspath(p) == os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(p))
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr(images.os, "open", denied)
    with pytest.raises(ImageRejected) as info:
        load_rgb(path)
    assert info.value.reason == "unreadable" and "permission" in info.value.detail


def test_image_rejected_pickles_and_prints():
    exc = pickle.loads(pickle.dumps(ImageRejected("truncated", "cut at 10 bytes")))
    assert (exc.reason, exc.detail) == ("truncated", "cut at 10 bytes")
    assert str(exc) == "truncated: cut at 10 bytes"


def test_content_hash_is_sha256_of_the_bytes(tmp_path: Path):
    data = os.urandom(3_000_000)
    path = write(tmp_path / "x.bin", data)
    assert content_hash(path) == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- scan_collection


def outcomes(result: images.ScanResult) -> dict[str, str]:
    got = {name: "ok" for name in result.manifest["name"]}
    got.update(zip(result.rejected["name"], result.rejected["reason"], strict=True))
    return got


def test_scan_of_the_fault_collection_gives_every_expected_outcome(fault_dir, fault_scan):
    root, expected = fault_dir
    got = outcomes(fault_scan)
    wanted = {n: o for n, o in expected.items() if o != "ignored"}
    assert got == wanted
    assert list(fault_scan.manifest.columns) == list(MANIFEST_COLUMNS)
    assert list(fault_scan.rejected.columns) == list(REJECTED_COLUMNS)
    assert set(fault_scan.rejected["stage"]) == {"scan"}
    assert list(fault_scan.manifest["name"]) == sorted(fault_scan.manifest["name"])
    assert fault_scan.manifest["name"].is_unique
    decoded_then_refused = {"corrupt", "truncated", "not_an_image", "decompression_bomb"}
    refused = fault_scan.rejected["reason"].isin(decoded_then_refused).sum()
    assert fault_scan.inspected == len(fault_scan.manifest) + refused


def test_scan_manifest_values(fault_dir, fault_scan):
    root, _ = fault_dir
    m = fault_scan.manifest.set_index("name")
    assert tuple(m.loc["ok/exif_rotated.jpg", ["width", "height"]]) == (80, 40)  # upright
    assert tuple(m.loc["ok/wide_4000x1.png", ["width", "height"]]) == (4000, 1)
    assert m.loc["ok/png_named.jpg", "format"] == "PNG"
    assert m.loc["ok/upper_case.JPEG", "format"] == "JPEG"
    for name in ("ok/rgb.jpg", "names/ünïcödé 日本語 😀.png"):
        path = root / name
        assert m.loc[name, "content_hash"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert m.loc[name, "bytes"] == path.stat().st_size
        assert m.loc[name, "mtime_ns"] == path.stat().st_mtime_ns
    for col in ("bytes", "mtime_ns", "width", "height"):
        assert m[col].dtype == np.int64


def test_duplicates_share_a_hash(fault_scan):
    m = fault_scan.manifest.set_index("name")
    hashes = {m.loc[n, "content_hash"] for n in faults.DUPLICATES}
    assert len(hashes) == 1
    others = m.drop(index=list(faults.DUPLICATES))["content_hash"]
    assert hashes.isdisjoint(others)


def test_hostile_and_non_utf8_names_survive_parquet_and_load(tmp_path, fault_dir, fault_scan):
    root, _ = fault_dir
    names = set(fault_scan.manifest["name"])
    assert set(faults.HOSTILE_NAMES) <= names
    assert faults.NON_UTF8_NAME in names
    for table in (fault_scan.manifest, fault_scan.rejected):
        table.to_parquet(tmp_path / "t.parquet", index=False)
        back = pd.read_parquet(tmp_path / "t.parquet")
        assert list(back["name"]) == list(table["name"])
    # the escaped name still reaches the real file, both ways
    real = name_to_path(root, faults.NON_UTF8_NAME)
    assert os.fsencode(real).endswith(faults.NON_UTF8_RAW)
    assert load_rgb(real).size == (64, 48)
    assert load_rgb(root / faults.NON_UTF8_NAME).size == (64, 48)
    assert name_to_path(root, "ok/rgb.jpg") == root / "ok/rgb.jpg"
    for name in faults.HOSTILE_NAMES:
        assert load_rgb(name_to_path(root, name)).size == (64, 48)


def test_vanished_between_listing_and_reading(tmp_path: Path, monkeypatch):
    for i in range(4):
        write(tmp_path / f"{i}.png", faults.encode(faults.pattern(seed=i), "PNG"))
    with faults.vanish_after_listing(tmp_path, ["1.png"]):
        result = scan_collection(tmp_path)
    assert outcomes(result) == {"0.png": "ok", "1.png": "vanished", "2.png": "ok", "3.png": "ok"}
    # later race: gone between the stat and the open
    real = images._inspect

    def delete_first(path: str, name: str):
        if name == "2.png":
            os.unlink(path)
        return real(path, name)

    monkeypatch.setattr(images, "_inspect", delete_first)
    assert outcomes(scan_collection(tmp_path))["2.png"] == "vanished"


def test_one_crashing_file_never_stops_the_scan(tmp_path: Path, monkeypatch):
    for i in range(5):
        write(tmp_path / f"{i}.png", faults.encode(faults.pattern(seed=i), "PNG"))
    real = images._inspect

    def buggy(path: str, name: str):
        if name == "3.png":
            raise ZeroDivisionError("plugin bug")
        return real(path, name)

    monkeypatch.setattr(images, "_inspect", buggy)
    result = scan_collection(tmp_path, workers=2)
    assert len(result.manifest) == 4
    assert result.rejected.to_dict("records") == [
        {
            "name": "3.png",
            "stage": "scan",
            "reason": "corrupt",
            "detail": "ZeroDivisionError: plugin bug",
        }
    ]


def test_hidden_entries_and_extensions(tmp_path: Path):
    png = faults.encode(faults.pattern(), "PNG")
    for name in ("A.PNG", "b.JpG", "c.TIFF", ".h.png", ".d/x.png", "n.txt", "z.png.old"):
        write(tmp_path / name, png)
    result = scan_collection(tmp_path)
    assert list(result.manifest["name"]) == ["A.PNG", "b.JpG", "c.TIFF"]
    assert result.rejected.empty and list(result.rejected.columns) == list(REJECTED_COLUMNS)
    assert {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"} == IMAGE_EXTENSIONS


def test_empty_and_missing_root(tmp_path: Path):
    result = scan_collection(tmp_path)
    assert result.manifest.empty and list(result.manifest.columns) == list(MANIFEST_COLUMNS)
    with pytest.raises(NotADirectoryError):
        scan_collection(tmp_path / "missing")


def test_workers_do_not_change_the_result(tmp_path: Path):
    for i in range(12):
        write(tmp_path / f"d{i % 3}/{i}.png", faults.encode(faults.pattern(seed=i), "PNG"))
    write(tmp_path / "bad.png", b"nope")
    one, four = scan_collection(tmp_path, workers=1), scan_collection(tmp_path, workers=4)
    pd.testing.assert_frame_equal(one.manifest, four.manifest)
    pd.testing.assert_frame_equal(one.rejected, four.rejected)


def test_progress_reports_every_file(tmp_path: Path):
    for i in range(6):
        write(tmp_path / f"{i}.png", faults.encode(faults.pattern(seed=i), "PNG"))
    write(tmp_path / "empty.png", b"")
    calls: list[tuple[int, int]] = []
    first = scan_collection(tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (7, 7) and all(t == 7 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) == 7
    calls.clear()
    scan_collection(tmp_path, previous=first.manifest, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(7, 7)]


# --------------------------------------------------------------------------- rescans


def make_folder(root: Path, n: int) -> None:
    for i in range(n):
        write(root / f"s{i % 4}/{i:03d}.png", faults.encode(faults.pattern(16, 12, seed=i), "PNG"))


def test_rescan_with_previous_reads_no_file(tmp_path: Path, monkeypatch):
    make_folder(tmp_path, 40)
    first = scan_collection(tmp_path)
    assert (first.reused, first.inspected) == (0, 40)

    def forbidden(*args, **kwargs):
        raise AssertionError("a file was read")

    monkeypatch.setattr(images, "_inspect", forbidden)
    for fn in ("hash_fileobj", "decode_image", "open_regular", "content_hash"):
        monkeypatch.setattr(image_decode, fn, forbidden)
    second = scan_collection(tmp_path, previous=first.manifest)
    pd.testing.assert_frame_equal(first.manifest, second.manifest)
    assert (second.reused, second.inspected) == (40, 0)


def test_rescan_trusts_size_and_mtime_and_rereads_changes(tmp_path: Path):
    make_folder(tmp_path, 8)
    first = scan_collection(tmp_path)
    path = tmp_path / "s1/001.png"
    st = path.stat()
    # same size, same mtime, other bytes: proof the warm scan did not read it
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    warm = scan_collection(tmp_path, previous=first.manifest)
    pd.testing.assert_frame_equal(first.manifest, warm.manifest)
    # a new mtime makes it read again (and the corruption is found)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    write(tmp_path / "new.png", faults.encode(faults.pattern(seed=99), "PNG"))
    (tmp_path / "s2/002.png").unlink()
    third = scan_collection(tmp_path, previous=first.manifest)
    assert third.inspected == 2 and third.reused == 6
    assert "s2/002.png" not in set(third.manifest["name"])
    assert "new.png" in set(third.manifest["name"])
    assert outcomes(third)["s1/001.png"] == "corrupt"


def test_previous_from_parquet_or_foreign_table(tmp_path: Path):
    make_folder(tmp_path, 5)
    first = scan_collection(tmp_path)
    first.manifest.to_parquet(tmp_path / "m.parquet", index=False)
    again = scan_collection(tmp_path, previous=pd.read_parquet(tmp_path / "m.parquet"))
    assert again.reused == 5
    foreign = scan_collection(tmp_path, previous=pd.DataFrame({"name": ["s0/000.png"]}))
    assert foreign.inspected == 5  # unusable previous: rescanned, no crash
