"""A really built data folder for the explorer's tests: generated images (some with hostile
names, one broken file the build rejects) through the real `xdeg build` (which makes the
thumbnails and the map too)."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from xdeg_pipeline_tests.helpers.collections import make_collection, make_image

HOSTILE_NAMES = (  # file names cannot hold "/", anything else goes
    "<script>window.__xss=1<\\script>.png",
    "<img src=x onerror=window.__xss=2>.png",
    "<svg onload=window.__xss=3>.png",
    "quote\"'&amp;.png",
)
BROKEN = "broken.png"


def add_images(images: Path, start: int, n: int) -> list[str]:
    """``n`` generated images in two folders; their collection names."""
    return [p.relative_to(images).as_posix() for p in make_collection(images, n, start)]


@contextlib.contextmanager
def own_environment():
    """`xdeg build` sets XDEG_* and DAGSTER_HOME in os.environ: put them back afterwards."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("XDEG_") or k == "DAGSTER_HOME"]:
        del os.environ[key]
    os.environ["XDEG_PROGRESS_BAR"] = "0"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build(images: Path, home: Path) -> None:
    """The real build: Dagster, CNN features, graph, thumbnails, map."""
    from xdeg_pipeline.cli import main

    with own_environment(), contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", "--images", str(images), "--home", str(home)])
    assert code == 0, "xdeg build failed"


def build_explorer_home(root: Path, n: int = 24) -> dict:
    """Images under ``root/images``, built into ``root/home``; returns the paths and names."""
    images, home = root / "images", root / "home"
    names = add_images(images, 0, n)
    for j, hostile in enumerate(HOSTILE_NAMES):
        make_image(images / "hostile" / hostile, 100 + j)
        names.append(f"hostile/{hostile}")
    (images / BROKEN).write_bytes(b"this is not an image")
    build(images, home)
    return {"images": images, "home": home, "names": names}
