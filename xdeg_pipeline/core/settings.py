"""Where xdeg reads and writes: the data folder, the collection, the backbone."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_BACKBONE = "efficientnet_lite0"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def xdeg_home() -> Path:
    """The data folder: ``$XDEG_HOME``, else ``data/`` of a source checkout, else ``./data``."""
    env = os.environ.get("XDEG_HOME")
    if env:
        home = Path(env).expanduser()
    elif (PROJECT_ROOT / "pyproject.toml").exists():
        home = PROJECT_ROOT / "data"
    else:
        home = Path.cwd() / "data"
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_collection() -> Path:
    """The embedded default collection (OpenMoji rendered to PNG) inside the data folder."""
    return xdeg_home() / "openmoji" / "images"


def images_root() -> Path:
    """The collection folder: ``$XDEG_IMAGES`` or the embedded default."""
    env = os.environ.get("XDEG_IMAGES")
    return Path(env).expanduser().resolve() if env else default_collection()


def backbone_name() -> str:
    """The feature backbone: ``$XDEG_BACKBONE`` or efficientnet_lite0."""
    return os.environ.get("XDEG_BACKBONE", DEFAULT_BACKBONE)
