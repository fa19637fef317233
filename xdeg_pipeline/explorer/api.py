"""The JSON API: /api/path, /api/images, /api/map, /api/status and /api/export."""

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
from xdeg_pipeline.explorer.requests import (
    BadRequest,
    Params,
    PathQuery,
    parse_images_query,
    parse_path_query,
)
from xdeg_pipeline.explorer.responses import Json, error

Items = Sequence[tuple[str, str]]


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
        data = self.live.get()
        files, distinct, on_map = len(data.entries), len(data.file_of_hash), len(data.map)
        return Json({
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
            total = len(data.filtered(where))
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
        return Json({"where": list(where), "filter": data.collection.filter(where).text,
                     "fields": data.collection.filter_fields, "images": len(inside),
                     "total": len(data.entries), "hashes": hashes})

    def map(self, request: Request) -> Response:
        data = self.live.get()
        atlases = data.atlases
        where = {} if atlases is None else {
            h: (int(s), int(c)) for h, s, c in atlases.index.itertuples(index=False)}
        first_name: dict[str, str] = {}
        for e in data.entries:
            first_name.setdefault(e.content_hash, e.name)
        points: dict[str, list] = {k: [] for k in ("hash", "name", "x", "y", "sheet", "slot")}
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
