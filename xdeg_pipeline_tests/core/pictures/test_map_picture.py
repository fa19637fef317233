"""Pictures of the map (thumbnails at their positions, a chain over them) and chain animations."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from xdeg_pipeline.core.pictures.chain_animation import chain_animation
from xdeg_pipeline.core.pictures.labels import overlaps
from xdeg_pipeline.core.pictures.map_picture import (
    CHAIN,
    SOURCE,
    TARGET,
    add_to_map_png,
    chain_layout,
    map_picture,
    map_png,
)
from xdeg_pipeline_tests.helpers.collections import make_image

HOSTILE = ["<script>alert(1)</script>", "a\u202eb\x00c\nd", "\udcff broken", "emoji \U0001f600"]


def _thumb(h: str) -> Image.Image:
    return Image.new("RGB", (32, 32), (40, 60, 220) if int(h, 16) % 2 else (230, 200, 30))


def _hashes(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(n)]


def test_map_picture_draws_thumbnails_and_the_chain(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    hashes, xy = _hashes(200), rng.normal(size=(200, 2))
    plain = map_picture(hashes, xy, _thumb, tmp_path / "map.png", size=600, title=HOSTILE[0],
                        attribution="Emoji: OpenMoji, CC BY-SA 4.0")
    chain = [hashes[i] for i in (3, 50, 120, 199)]
    drawn = map_picture(hashes, xy, _thumb, tmp_path / "chain.png", size=600, chain=chain,
                        chain_labels=HOSTILE)
    with Image.open(plain) as a, Image.open(drawn) as b:
        assert a.width == b.width == 600
        pa, pb = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
    blue = np.all(pa == (40, 60, 220), axis=-1).sum()
    assert blue > 1000, "thumbnails are pasted"
    chain_px = lambda p: np.all(np.abs(p.astype(int) - CHAIN) < 30, axis=-1).sum()  # noqa: E731
    assert chain_px(pa) == 0 and chain_px(pb) > 300, "the chain line is drawn"


def test_map_picture_refuses_unknown_chain_images(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not on the map"):
        map_picture(_hashes(3), np.zeros((3, 2)), _thumb, tmp_path / "m.png", chain=["f" * 64])
    with pytest.raises(ValueError, match="positions"):
        map_picture(_hashes(3), np.zeros((2, 2)), _thumb, tmp_path / "m.png")


def test_missing_thumbnails_are_dots(tmp_path: Path) -> None:
    out = map_picture(_hashes(5), np.arange(10.0).reshape(5, 2), lambda h: None,
                      tmp_path / "m.png", size=200)
    assert Image.open(out).size[0] == 200


def test_a_large_map_is_a_density_of_points(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from xdeg_pipeline.core import params
    from xdeg_pipeline.core.pictures.map_picture import DENSITY

    monkeypatch.setattr(params, "MAP_PICTURE_MAX_THUMBNAILS", 100)
    rng = np.random.default_rng(0)
    hashes, xy = _hashes(5000), rng.normal(size=(5000, 2))
    asked: list[str] = []
    chain = [hashes[0], hashes[1]]
    out = map_picture(hashes, xy, lambda h: asked.append(h) or _thumb(h), tmp_path / "m.png",
                      size=300, chain=chain)
    with Image.open(out) as img:
        px = np.asarray(img.convert("RGB")).reshape(-1, 3)
    assert set(asked) <= set(chain), "no thumbnail pasted but the chain's"
    points = sum(int(np.all(px == c, axis=1).sum()) for c in DENSITY[1:])
    assert points > 2000  # every image a pixel, darker where they crowd
    assert (px == DENSITY[3]).all(axis=1).any()


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_chain_animation(tmp_path: Path, suffix: str) -> None:
    images = [make_image(tmp_path / f"{i}.png", i) for i in range(4)]
    images.append(tmp_path / "missing.png")  # unreadable: an empty square, not a crash
    out = chain_animation(images, HOSTILE + ["last"], tmp_path / f"chain{suffix}",
                          steps=[0.1, 0.2, 0.3, 0.4], size=96, fade_frames=3,
                          attribution="credit line")
    with Image.open(out) as im:
        assert im.format == suffix[1:].upper()
        assert getattr(im, "is_animated", False)
        frames = [f.copy() for f in ImageSequence.Iterator(im)]
    assert len(frames) == 5 + 4 * 3  # every image held, three fade frames between each pair
    assert frames[0].width == 96


def test_chain_animation_checks_its_input(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.png", 1)
    with pytest.raises(ValueError, match=".gif or .webp"):
        chain_animation([img], ["a"], tmp_path / "a.png")
    with pytest.raises(ValueError, match="label"):
        chain_animation([img, img], ["a"], tmp_path / "a.gif")
    with pytest.raises(ValueError, match="steps"):
        chain_animation([img, img], ["a", "b"], tmp_path / "a.gif", steps=[1.0, 2.0])
    single = chain_animation([img], ["only"], tmp_path / "one.gif")
    assert Image.open(single).format == "GIF"


def test_chain_tags_never_pile_onto_the_source() -> None:
    """A chain whose images sit almost on one point (similar images): every tag is placed off
    every chain image and every other tag, the source's and the target's nearest."""
    points = [(300.0 + i, 200.0 + (i % 2)) for i in range(12)]
    sizes = [(120.0, 18.0)] + [(22.0, 18.0)] * 10 + [(110.0, 18.0)]
    images, tags = chain_layout(points, sizes, thumb=24, bounds=(0, 0, 940, 600))
    assert len(images) == len(tags) == 12
    for a, b in itertools.combinations(tags, 2):
        assert not overlaps(a, b)
    for tag in tags:
        assert not any(overlaps(tag, img) for img in images)
    for end in (0, 11):  # the ends' tags (with their labels) stay by their images
        tag, img = tags[end], images[end]
        gap = max(tag[0] - img[2], img[0] - tag[2], tag[1] - img[3], img[1] - tag[3])
        assert gap < 40, (end, tag, img)


def test_map_picture_fits_a_width_and_height(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    hashes, xy = _hashes(50), rng.normal(size=(50, 2))
    out = map_picture(hashes, xy, _thumb, tmp_path / "m.png", size=940, height=600,
                      chain=hashes[:12], chain_labels=[f"label {i}" for i in range(12)],
                      title="a -> b", attribution="Emoji: OpenMoji, CC BY-SA 4.0 " * 4)
    with Image.open(out) as im:
        assert im.size == (940, 600)
        px = np.asarray(im.convert("RGB"))
    green = np.all(px == SOURCE, axis=-1).sum()
    blue = np.all(px == TARGET, axis=-1).sum()
    assert green > 500 and blue > 500, "the source's and the target's labelled tags are drawn"


def _pixels(png: bytes) -> np.ndarray:
    import io

    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def test_new_images_added_to_a_stored_map_give_the_whole_picture() -> None:
    rng = np.random.default_rng(3)
    hashes, xy = _hashes(120), rng.normal(size=(120, 2))
    xy[100:] *= 0.5  # the 20 new images lie inside the map's extent
    options = {"size": 500, "title": HOSTILE[1], "attribution": "Emoji: OpenMoji, CC BY-SA 4.0"}
    before = map_png(hashes[:100], xy[:100], _thumb, **options)
    added = add_to_map_png(before, hashes, xy, 100, _thumb, **options)
    whole = map_png(hashes, xy, _thumb, **options)
    assert added is not None
    assert np.array_equal(_pixels(added), _pixels(whole))
    assert not np.array_equal(_pixels(before), _pixels(whole)), "the new images are drawn"


def test_a_stored_map_is_not_added_to_where_the_picture_would_differ(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from xdeg_pipeline.core import params

    rng = np.random.default_rng(4)
    hashes, xy = _hashes(60), rng.normal(size=(60, 2))
    xy[55:] *= 0.5
    before = map_png(hashes[:55], xy[:55], _thumb, size=400)
    wider = xy.copy()
    wider[59] = (10.0, 0.0)  # a new image beyond the old extent: every position moves
    assert add_to_map_png(before, hashes, wider, 55, _thumb, size=400) is None
    assert add_to_map_png(before, hashes, xy, 55, _thumb, size=500) is None  # another size
    assert add_to_map_png(b"not a png", hashes, xy, 55, _thumb, size=400) is None
    assert add_to_map_png(before, hashes, xy, 0, _thumb, size=400) is None
    monkeypatch.setattr(params, "MAP_PICTURE_MAX_THUMBNAILS", 50)  # a density picture
    assert add_to_map_png(before, hashes, xy, 55, _thumb, size=400) is None
