"""Where benchmarks get real images and keep their caches, on any machine.

Real images are the demo collection (the OpenMoji set embedded in the package, rendered as
``xdeg demo`` renders it) or folders the user names; caches go under a folder the user names or
under the system's temporary folder (``<tmp>/xdeg-bench``), never under a fixed machine path.
Every benchmark that uses them prints which collection it used (:func:`real_collections`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from xdeg_pipeline.core.sources.openmoji import list_emojis, render_one, render_openmoji

SIZE = 160  # the demo's rendering size (render_openmoji's default)


def cache_root(given: Path | None = None) -> Path:
    """``given``, else ``<system temp>/xdeg-bench`` (created)."""
    root = Path(given) if given is not None else Path(tempfile.gettempdir()) / "xdeg-bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def demo_collection(limit: int | None = None, cache: Path | None = None) -> Path:
    """The demo collection rendered under the cache (kept for the next run); with ``limit``, a
    sample of ``limit`` images spread over the whole set (every k-th in hexcode order), in
    the same topic folders."""
    if limit is None:
        dest = cache_root(cache) / f"openmoji-{SIZE}" / "images"
        render_openmoji(dest, size=SIZE)
        return dest
    emojis = list_emojis()
    step = max(1, len(emojis) // max(1, limit))
    dest = cache_root(cache) / f"openmoji-{SIZE}-sample{limit}"
    for emoji in emojis[::step][:limit]:
        target = dest / emoji.relpath
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            render_one(emoji.svg, target, SIZE)
    return dest


def real_collections(given: list[Path] | None, limit: int | None = None,
                     cache: Path | None = None) -> tuple[list[Path], str]:
    """The folders of real images to use and a line saying which they are: ``given`` (each
    must be a folder: a missing one stops the benchmark, it is never skipped), else the demo
    collection (``limit`` images of it when given)."""
    if given:
        missing = [str(p) for p in given if not Path(p).is_dir()]
        if missing:
            raise SystemExit(f"not a folder: {', '.join(missing)}")
        return [Path(p) for p in given], f"the folders given: {', '.join(map(str, given))}"
    folder = demo_collection(limit, cache)
    count = sum(1 for _ in folder.rglob("*.png"))
    return [folder], (f"the demo collection (OpenMoji, {count} of {len(list_emojis())} images "
                      f"rendered at {SIZE} px) in {folder}")
