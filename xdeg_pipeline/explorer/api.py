"""The JSON API: /api/path, /api/images, /api/map (and its binary points), /api/status and
/api/export."""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from xdeg_pipeline.core.images.filters import FilterError
from xdeg_pipeline.core.paths.chain import PathError
from xdeg_pipeline.core.query import OutsideFilter
from xdeg_pipeline.core.resolve import NameOutsideCollection
from xdeg_pipeline.explorer.data import ExplorerData, LiveData, UnknownImage
from xdeg_pipeline.explorer.exports import EXPORTS, export_chain
from xdeg_pipeline.explorer.points import FORMAT
from xdeg_pipeline.explorer.requests import (
    BadRequest,
    Params,
    PathQuery,
    parse_images_query,
    parse_path_query,
)
from xdeg_pipeline.explorer.responses import Json, error

Items = Sequence[tuple[str, str]]
MAX_POINT = 2**31 - 1


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def counts_line(files: int, distinct: int, on_map: int) -> str:
    """What the collection holds, each count saying what it counts: ``4,515 files, 4,267
    distinct images on the map (248 files repeat another's content)``."""
    text = f"{_plural(files, 'file')}, {_plural(on_map, 'distinct image')} on the map"
    notes = []
    if files > distinct:
        repeat = "repeats" if files - distinct == 1 else "repeat"
        notes.append(f"{_plural(files - distinct, 'file')} {repeat} another's content")
    if distinct > on_map:
        notes.append(f"{distinct - on_map:,} not on the map yet")
    return text + (f" ({'; '.join(notes)})" if notes else "")


class Api:
    """The API handlers over one :class:`LiveData` (the current build)."""

    def __init__(self, live: LiveData) -> None:
        self.live = live

    def status(self, request: Request) -> Response:
        if not self.live.loaded:  # the map is there, the path finder not yet
            on_map = self.live.points().n
            return Json({"loading": True, "on_map": on_map, "generation": self.live.generation,
                         "counts": f"{_plural(on_map, 'image')} on the map (loading the path "
                                   "finder\u2026)"})
        data = self.live.get()
        files = len(data.collection.names)
        distinct, on_map = len(data.file_of_hash), data.points.n
        return Json({
            "loading": False,
            "searchable": data.searchable,  # every name's search text made
            "images": files,  # files of the collection
            "unique_images": distinct,  # distinct contents among them
            "on_map": on_map,
            "counts": counts_line(files, distinct, on_map),
            "generation": self.live.generation,
            "attribution": data.attribution,
            "last_reload_error": self.live.last_error,
        })

    def images(self, request: Request) -> Response:
        try:
            q, limit, where = parse_images_query(request.query_params.multi_items())
            data = self.live.get()
            found = data.search(q, limit, where)
            total = len(data.filtered(where)) if where else len(data.collection.names)
        except BadRequest as exc:
            return error(400, str(exc))
        except FilterError as exc:
            return error(400, str(exc), parameter="where")
        return Json({"images": [e.as_dict() for e in found], "total": total})

    def filter(self, request: Request) -> Response:
        """The images a filter lets through, by content hash (the map dims the others)."""
        try:
            where = Params(request.query_params.multi_items()).many("where")
            data = self.live.get()
            inside = data.filtered(where)
        except BadRequest as exc:
            return error(400, str(exc))
        except FilterError as exc:
            return error(400, str(exc), parameter="where")
        hashes = sorted({e.content_hash for e in inside})
        points = sorted({e.point for e in inside if e.point is not None})
        return Json({"where": list(where), "filter": data.collection.filter(where).text,
                     "fields": data.collection.filter_fields, "images": len(inside),
                     "total": len(data.collection.names), "hashes": hashes, "points": points})

    def map(self, request: Request) -> Response:
        """What the page needs before the points: their count, format and the atlas sheets."""
        points = self.live.points()
        sheets = [{"sheet": s["sheet"], "url": f"/atlas/{s['sha256']}.webp", "count": s["count"]}
                  for s in points.sheets]
        return Json({
            "generation": self.live.generation,
            "n": points.n,
            "points": f"/api/map/points?generation={self.live.generation}",
            "format": FORMAT,
            "atlases": sheets,
            "cell": points.cell,
            "side": points.side,
        })

    def map_points(self, request: Request) -> Response:
        """Every point at once, as arrays (:mod:`.points`): 16 bytes an image."""
        return Response(self.live.points().binary(), media_type="application/octet-stream",
                        headers={"cache-control": "no-cache"})

    def map_point(self, request: Request) -> Response:
        """One point's name and content hash (``i``: its index in the arrays)."""
        points = self.live.points()
        try:
            i = Params(request.query_params.multi_items()).integer("i", 0, MAX_POINT, None)
        except BadRequest as exc:
            return error(400, str(exc))
        if i is None:
            return error(400, "give i=INDEX (a point of /api/map/points)")
        if i >= points.n:
            return error(404, f"the map has {points.n} points; {i} is not one")
        return Json(points.point(i))

    def path(self, request: Request) -> Response:
        got = self._answer(request.query_params.multi_items())
        if isinstance(got, Response):
            return got
        data, chains, timing = got
        body = {"chains": [c.as_dict() for c in chains], "images": data.chain_images(chains)}
        return Json(body, headers={"server-timing": timing})

    def export(self, request: Request) -> Response:
        items = request.query_params.multi_items()
        extra = Params(items)
        try:
            fmt = extra.one("format", "png") or "png"
            if fmt not in EXPORTS:
                raise BadRequest(f"format must be one of {', '.join(EXPORTS)}")
            which = extra.integer("alternative", 0, 9, 0)
        except BadRequest as exc:
            return error(400, str(exc))
        got = self._answer([(k, v) for k, v in items if k not in ("format", "alternative")])
        if isinstance(got, Response):
            return got
        data, chains, _ = got
        if which >= len(chains):
            return error(404, f"there are {len(chains)} chains; alternative {which} is not one")
        body, media, filename = export_chain(data, chains[which], fmt)
        return Response(body, media_type=media,
                        headers={"content-disposition": f'attachment; filename="{filename}"'})

    def _answer(self, items: Items):
        """(data, chains, Server-Timing value) for a path request, or an error response."""
        t0 = time.perf_counter()
        try:
            query = parse_path_query(items)
        except BadRequest as exc:
            return error(400, str(exc))
        data = self.live.get()
        try:
            chains, wait_ms, search_ms = _chains(data, query)
        except UnknownImage as exc:
            extra = {"rejected": exc.rejected} if exc.rejected else {}
            return error(404, str(exc), closest=exc.closest, parameter=exc.parameter,
                         name=exc.name, **extra)
        except (NameOutsideCollection, BadRequest) as exc:
            return error(400, str(exc))
        except FilterError as exc:
            return error(400, str(exc), parameter="where")
        except OutsideFilter as exc:
            return error(400, str(exc), parameter=exc.parameter, name=exc.name)
        except PathError as exc:
            return error(422 if str(exc).startswith("no chain") else 400, str(exc))
        total_ms = (time.perf_counter() - t0) * 1000
        timing = f"path;dur={search_ms:.2f}, queue;dur={wait_ms:.2f}, total;dur={total_ms:.2f}"
        return data, chains, timing


def _chains(data: ExplorerData, query: PathQuery):
    """Resolve the request's names (an unknown one says which parameter held it), then search."""

    def resolve(parameter: str, name: str) -> str:
        try:
            return data.resolve(name)
        except UnknownImage as exc:
            exc.parameter = parameter
            raise

    source, target = resolve("source", query.source), resolve("target", query.target)
    avoid = [resolve("avoid", a) for a in query.avoid]
    via = [resolve("via", v) for v in query.via]
    return data.find(query.request(source, target, avoid, via))
