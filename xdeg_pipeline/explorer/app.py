"""The explorer's web app (Starlette): the page, its JSON API and the pictures by content hash.

Nothing a request carries is ever used as a file path: pictures are looked up by content
hash among those the built collection knows (anything else is 404), the page's own files come
from a fixed table. Every response carries a restrictive Content-Security-Policy.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from xdeg_pipeline.core.image_formats import SNIFF_BYTES, sniff_format
from xdeg_pipeline.core.paths.chain import PathError
from xdeg_pipeline.core.resolve import NameOutsideCollection
from xdeg_pipeline.core.thumbnails import is_content_hash, make_thumbnail
from xdeg_pipeline.core.visuals import atlas_dir
from xdeg_pipeline.explorer.data import ExplorerData, LiveData, UnknownImage
from xdeg_pipeline.explorer.exports import EXPORTS, export_chain
from xdeg_pipeline.explorer.requests import (
    BadRequest,
    Params,
    PathQuery,
    parse_images_query,
    parse_path_query,
)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
STATIC = {  # URL name -> (package file, media type): the only files of the page
    "explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
    "map.js": ("map.js", "text/javascript; charset=utf-8"),
    "explorer.css": ("explorer.css", "text/css; charset=utf-8"),
}
MEDIA = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp",
         "BMP": "image/bmp", "TIFF": "image/tiff"}
IMMUTABLE = {"cache-control": "public, max-age=31536000, immutable"}


class Json(Response):
    """JSON with non-ASCII escaped (names may hold lone surrogates from undecodable bytes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        return text.translate(_NO_MARKUP).encode("ascii")  # <, >, & only occur inside strings


_NO_MARKUP = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _error(status: int, message: str, **extra: Any) -> Json:
    return Json({"error": " ".join(str(message).split()), **extra}, status_code=status)


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response, errors included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _static_text(name: str) -> bytes:
    return resources.files("xdeg_pipeline.explorer").joinpath("static", name).read_bytes()


class Explorer:
    """The handlers over one :class:`LiveData`."""

    def __init__(self, live: LiveData) -> None:
        self.live = live
        self.page = _static_text("index.html")
        self.static = {k: (_static_text(f), m) for k, (f, m) in STATIC.items()}

    # ------------------------------------------------------------------ page
    def index(self, request: Request) -> Response:
        return Response(self.page, media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-cache"})

    def static_file(self, request: Request) -> Response:
        entry = self.static.get(request.path_params["name"])
        if entry is None:
            return _error(404, "not found")
        return Response(entry[0], media_type=entry[1], headers={"cache-control": "no-cache"})

    # ------------------------------------------------------------------ API
    def status(self, request: Request) -> Response:
        data = self.live.get()
        return Json({
            "images": len(data.entries),
            "unique_images": len(data.file_of_hash),
            "on_map": len(data.map),
            "generation": self.live.generation,
            "attribution": data.attribution,
            "waypoints": False,
            "last_reload_error": self.live.last_error,
        })

    def images(self, request: Request) -> Response:
        try:
            q, limit = parse_images_query(request.query_params.multi_items())
        except BadRequest as exc:
            return _error(400, str(exc))
        data = self.live.get()
        found = data.search(q, limit)
        return Json({"images": [e.as_dict() for e in found], "total": len(data.entries)})

    def map(self, request: Request) -> Response:
        data = self.live.get()
        atlases = data.atlases
        where = {} if atlases is None else {
            h: (int(s), int(c)) for h, s, c in atlases.index.itertuples(index=False)}
        first_name: dict[str, str] = {}
        for e in data.entries:
            first_name.setdefault(e.content_hash, e.name)
        points = {"hash": [], "name": [], "x": [], "y": [], "sheet": [], "slot": []}
        for h, (x, y) in data.map.items():
            if h not in first_name:
                continue
            sheet, slot = where.get(h, (-1, -1))
            for key, value in (("hash", h), ("name", first_name[h]), ("x", x), ("y", y),
                               ("sheet", sheet), ("slot", slot)):
                points[key].append(value)
        sheets = [] if atlases is None else [
            {"sheet": int(r.sheet), "url": f"/atlas/{r.sha256}.webp", "count": int(r.count)}
            for r in atlases.sheets.itertuples()]
        return Json({
            "generation": self.live.generation,
            "points": points,
            "atlases": sheets,
            "cell": None if atlases is None else atlases.cell,
            "side": None if atlases is None else atlases.side,
        })

    def _chains(self, data: ExplorerData, query: PathQuery):
        def resolve(parameter: str, name: str) -> str:
            try:
                return data.resolve(name)
            except UnknownImage as exc:
                exc.parameter = parameter
                raise

        source, target = resolve("source", query.source), resolve("target", query.target)
        avoid = [resolve("avoid", a) for a in query.avoid]
        return data.find(query.request(source, target, avoid))

    def _answer(self, request: Request):
        """(data, query, chains, Server-Timing value) or an error response."""
        t0 = time.perf_counter()
        try:
            query = parse_path_query(request.query_params.multi_items())
        except BadRequest as exc:
            return _error(400, str(exc))
        data = self.live.get()
        try:
            chains, wait_ms, search_ms = self._chains(data, query)
        except UnknownImage as exc:
            extra = {"rejected": exc.rejected} if exc.rejected else {}
            return _error(404, str(exc), closest=exc.closest, parameter=exc.parameter,
                          name=exc.name, **extra)
        except (NameOutsideCollection, BadRequest) as exc:
            return _error(400, str(exc))
        except PathError as exc:
            status = 422 if str(exc).startswith("no chain") else 400
            return _error(status, str(exc))
        total_ms = (time.perf_counter() - t0) * 1000
        timing = f"path;dur={search_ms:.2f}, queue;dur={wait_ms:.2f}, total;dur={total_ms:.2f}"
        return data, query, chains, timing

    def path(self, request: Request) -> Response:
        got = self._answer(request)
        if isinstance(got, Response):
            return got
        data, _, chains, timing = got
        body = {"chains": [c.as_dict() for c in chains], "images": data.chain_images(chains)}
        return Json(body, headers={"server-timing": timing})

    def export(self, request: Request) -> Response:
        items = [(k, v) for k, v in request.query_params.multi_items()
                 if k not in ("format", "alternative")]
        extra = Params(request.query_params.multi_items())
        try:
            fmt = extra.one("format", "png") or "png"
            if fmt not in EXPORTS:
                raise BadRequest(f"format must be one of {', '.join(EXPORTS)}")
            which = extra.integer("alternative", 0, 9, 0)
        except BadRequest as exc:
            return _error(400, str(exc))
        got = self._answer(_Query(items))
        if isinstance(got, Response):
            return got
        data, _, chains, _ = got
        if which >= len(chains):
            return _error(404, f"there are {len(chains)} chains; alternative {which} is not one")
        body, media, filename = export_chain(data, chains[which], fmt)
        return Response(body, media_type=media,
                        headers={"content-disposition": f'attachment; filename="{filename}"'})

    # ------------------------------------------------------------------ pictures
    def image(self, request: Request) -> Response:
        h = request.path_params["sha256"]
        data = self.live.get()
        path = data.file_of_hash.get(h) if is_content_hash(h) else None
        if path is None:
            return _error(404, "no image with this content hash")
        try:
            with open(path, "rb") as fh:
                fmt = sniff_format(fh.read(SNIFF_BYTES))
        except OSError:
            return _error(404, "the image file is gone; rebuild the collection")
        return FileResponse(path, media_type=MEDIA.get(fmt or "", "application/octet-stream"),
                            headers={"cache-control": "public, max-age=3600"})

    def thumb(self, request: Request) -> Response:
        h = request.path_params["sha256"]
        data = self.live.get()
        if not is_content_hash(h) or h not in data.file_of_hash:
            return _error(404, "no image with this content hash")
        body = data.thumbs.read(h)
        if body is None:  # not made yet (a build without thumbnails): made here, not stored
            try:
                body = make_thumbnail(data.file_of_hash[h], data.thumbs.size)
            except Exception:  # noqa: BLE001 - an unreadable file is a 404, not a crash
                return _error(404, "no thumbnail for this image")
        return Response(body, media_type="image/webp", headers=IMMUTABLE)

    def atlas(self, request: Request) -> Response:
        name = request.path_params["name"]
        data = self.live.get()
        sha = name[:-5] if name.endswith(".webp") else ""
        if not is_content_hash(sha) or sha not in data.atlas_files:
            return _error(404, "no such atlas")
        try:
            body = (atlas_dir(data.layout) / f"{sha}.webp").read_bytes()
        except OSError:
            return _error(404, "no such atlas")
        return Response(body, media_type="image/webp", headers=IMMUTABLE)


class _Query:
    """A stand-in request that carries only (filtered) query parameters."""

    def __init__(self, items) -> None:
        self.query_params = _Items(items)


class _Items:
    def __init__(self, items) -> None:
        self._items = list(items)

    def multi_items(self):
        return self._items


async def _not_found(request: Request, exc: HTTPException) -> Response:
    return _error(exc.status_code, exc.detail or "not found")


def create_app(home: Path, images_root: Path, *, check_every: float = 1.0,
               settle: float = 1.0) -> Starlette:
    """The explorer over the data folder ``home`` built from ``images_root``."""
    explorer = Explorer(LiveData(Path(home), Path(images_root), check_every, settle))
    routes = [
        Route("/", explorer.index),
        Route("/static/{name}", explorer.static_file),
        Route("/api/status", explorer.status),
        Route("/api/images", explorer.images),
        Route("/api/map", explorer.map),
        Route("/api/path", explorer.path),
        Route("/api/export", explorer.export),
        Route("/image/{sha256}", explorer.image),
        Route("/thumb/{sha256}", explorer.thumb),
        Route("/atlas/{name}", explorer.atlas),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _not_found})
    app.state.explorer = explorer
    app.add_middleware(SecurityHeaders)
    return app
