"""The explorer: a local web page to search the collection, see its map and follow chains.

``create_app(home, images_root)`` builds the Starlette app over a built data folder;
``serve(home, images_root, host, port)`` runs it on uvicorn (``xdeg serve``).

``create_app`` is imported on first use: the CLI reads the defaults of :mod:`.serve` for every
command, and importing the app (Starlette, the path finder, igraph) costs
0.6-1 s that ``xdeg build`` must not pay.
"""

from __future__ import annotations

from typing import Any

from xdeg_pipeline.explorer.serve import serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from xdeg_pipeline.explorer.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
