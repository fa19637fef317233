"""The explorer's web app (Starlette): the page, its JSON API and the pictures by content hash.

Nothing a request carries is ever used as a file path: pictures are looked up by content
hash among those the built collection knows (anything else is 404), the page's own files come
from a fixed table. Every response carries a restrictive Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xdeg_pipeline.explorer.api import Api
from xdeg_pipeline.explorer.data import LiveData
from xdeg_pipeline.explorer.explain import ExplainApi
from xdeg_pipeline.explorer.hosts import HostPolicy, TrustedHosts
from xdeg_pipeline.explorer.pictures import Pictures
from xdeg_pipeline.explorer.responses import CSP, SecurityHeaders, error

__all__ = ["CSP", "create_app"]

STATIC = {  # URL name -> (package file, media type): the only files of the page
    "explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
    "map.js": ("map.js", "text/javascript; charset=utf-8"),
    "explorer.css": ("explorer.css", "text/css; charset=utf-8"),
}
NO_CACHE = {"cache-control": "no-cache"}


def _static_bytes(name: str) -> bytes:
    return resources.files("xdeg_pipeline.explorer").joinpath("static", name).read_bytes()


class Page:
    """The page and its three files, read once from the package."""

    def __init__(self) -> None:
        self.html = _static_bytes("index.html")
        self.files = {k: (_static_bytes(f), m) for k, (f, m) in STATIC.items()}

    def index(self, request: Request) -> Response:
        return Response(self.html, media_type="text/html; charset=utf-8", headers=NO_CACHE)

    def static(self, request: Request) -> Response:
        entry = self.files.get(request.path_params["name"])
        if entry is None:
            return error(404, "not found")
        return Response(entry[0], media_type=entry[1], headers=NO_CACHE)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return error(exc.status_code, exc.detail or "not found")


def create_app(home: Path, images_root: Path, *, openmoji: bool = False,
               check_every: float = 1.0, settle: float = 1.0, host: str = "127.0.0.1",
               allowed_hosts: Iterable[str] = ()) -> Starlette:
    """The explorer over the data folder ``home`` built from ``images_root`` (``openmoji``:
    the rendered OpenMoji set: emoji names as captions, its credit line). A new build is
    looked for every ``check_every`` s and loaded once its files are ``settle`` s old. It
    answers only requests for the loopback names, ``host`` (the bound address) and
    ``allowed_hosts`` (:mod:`.hosts`)."""
    live = LiveData(Path(home), Path(images_root), check_every, settle, openmoji)
    page, api, pictures = Page(), Api(live), Pictures(live)
    routes = [
        Route("/", page.index),
        Route("/static/{name}", page.static),
        Route("/api/status", api.status),
        Route("/api/images", api.images),
        Route("/api/filter", api.filter),
        Route("/api/map", api.map),
        Route("/api/map/points", api.map_points),
        Route("/api/map/point", api.map_point),
        Route("/api/map/thumb", pictures.point_thumb),
        Route("/api/path", api.path),
        Route("/api/export", api.export),
        Route("/api/explain", ExplainApi(live).explain),
        Route("/image/{sha256}", pictures.image),
        Route("/thumb/{sha256}", pictures.thumb),
        Route("/atlas/{name}", pictures.atlas),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        live.answers.flush()  # the chains answered in the last moments (explorer/answers.py)

    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error},
                    lifespan=lifespan)
    app.state.live = live
    app.add_middleware(TrustedHosts, policy=HostPolicy(host, allowed_hosts))
    app.add_middleware(SecurityHeaders)  # the outer one: refusals carry the headers too
    return app
