"""python-igraph, imported without loading matplotlib.

igraph's drawing package imports ``matplotlib.pyplot`` as it is imported whenever matplotlib is
installed (xdeg installs it for its DejaVu Sans font file): 0.43 of igraph's 0.46 s import.
xdeg never draws with igraph (its pictures and charts are drawn with Pillow), so igraph is
imported here with matplotlib hidden for that moment: igraph's drawing module then holds its own
stand-in (plotting an igraph object raises igraph's "install matplotlib" error) and matplotlib
itself stays importable for everything else. Import igraph from here (``from
xdeg_pipeline.core.graph.igraph_import import igraph as ig``); importing it here first is
enough for code that then imports igraph or unpickles a graph.

For that moment (about 25 ms, once a process) another thread cannot import matplotlib or find
its module; xdeg's only other use of matplotlib, its font file, is found from the installed
files instead (:func:`xdeg_pipeline.core.pictures.render.get_font`).
"""

from __future__ import annotations

import sys
from types import ModuleType


def _import_igraph() -> ModuleType:
    if "igraph" in sys.modules:
        return sys.modules["igraph"]
    hidden = {name: module for name, module in sys.modules.items()
              if name == "matplotlib" or name.startswith("matplotlib.")}
    for name in hidden:
        del sys.modules[name]
    sys.modules["matplotlib"] = None  # type: ignore[assignment]  # ``import matplotlib`` fails
    try:
        import igraph
    finally:
        del sys.modules["matplotlib"]
        sys.modules.update(hidden)
    return igraph


igraph = _import_igraph()

__all__ = ["igraph"]
