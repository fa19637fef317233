"""/api/explain?a=&b=[&format=png|json]: why two images are neighbours (similarity maps)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from xdeg_pipeline.explorer.data import LiveData, UnknownImage
from xdeg_pipeline.explorer.requests import BadRequest, Params
from xdeg_pipeline.explorer.responses import Json, error

FORMATS = ("png", "json")


class ExplainApi:
    """The explanation of a pair over the current build (model loaded on first use)."""

    def __init__(self, live: LiveData) -> None:
        self.live = live

    def explain(self, request: Request) -> Response:
        from xdeg_pipeline.core.features.explain import heat_png
        from xdeg_pipeline.core.stages.explain import explain_pair

        t0 = time.perf_counter()
        params = Params(request.query_params.multi_items())
        data = self.live.get()
        try:
            fmt = params.one("format", "png") or "png"
            if fmt not in FORMATS:
                raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
            pair = []
            for key in ("a", "b"):
                query = params.one(key)
                if not query:
                    raise BadRequest(f"{key} is required (an image name)")
                name = data.resolve(query)
                h = data.hash_of_name[name]
                pair.append((name, h, data.file_of_hash[h]))
        except BadRequest as exc:
            return error(400, str(exc))
        except UnknownImage as exc:
            return error(404, str(exc), closest=exc.closest, name=exc.name)
        answer, maps = explain_pair(data.layout, pair[0], pair[1], with_pixels=fmt == "png")
        timing = {"server-timing": f"explain;dur={(time.perf_counter() - t0) * 1000:.2f}"}
        if fmt == "json":
            return Json(answer, headers=timing)
        if maps is None:
            return error(422, answer["message"], spatial=False)
        return Response(heat_png(maps), media_type="image/png",
                        headers={**timing, "cache-control": "private, max-age=3600"})
