"""The explorer: a local web page to search the collection, see its map and follow chains.

``create_app(home, images_root)`` builds the Starlette app over a built data folder;
``serve(home, images_root, host, port)`` runs it on uvicorn (``xdeg serve``).
"""

from xdeg_pipeline.explorer.app import create_app
from xdeg_pipeline.explorer.serve import serve

__all__ = ["create_app", "serve"]
