"""Images, thumbnails and atlas sheets, served only for content hashes the build knows: the
URL's hash is a key into the loaded collection, never part of a file path."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from xdeg_pipeline.core.images.formats import SNIFF_BYTES, sniff_format
from xdeg_pipeline.core.pictures.thumbnails import is_content_hash, make_thumbnail
from xdeg_pipeline.core.pictures.visuals import thumbnail_store
from xdeg_pipeline.core.storage.layout import Layout
from xdeg_pipeline.explorer.data import LiveData
from xdeg_pipeline.explorer.requests import BadRequest, Params
from xdeg_pipeline.explorer.responses import error

MEDIA = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp",
         "BMP": "image/bmp", "TIFF": "image/tiff"}
IMMUTABLE = {"cache-control": "public, max-age=31536000, immutable"}


class Pictures:
    """``/image/<sha256>``, ``/thumb/<sha256>``, ``/atlas/<sha256>.webp``."""

    def __init__(self, live: LiveData) -> None:
        self.live = live

    def image(self, request: Request) -> Response:
        h = request.path_params["sha256"]
        data = self.live.get()
        path = data.file_of_hash.get(h) if is_content_hash(h) else None
        if path is None:
            return error(404, "no image with this content hash")
        try:
            with open(path, "rb") as fh:
                fmt = sniff_format(fh.read(SNIFF_BYTES))
        except OSError:
            return error(404, "the image file is gone; rebuild the collection")
        return FileResponse(path, media_type=MEDIA.get(fmt or "", "application/octet-stream"),
                            headers={"cache-control": "public, max-age=3600"})

    def thumb(self, request: Request) -> Response:
        h = request.path_params["sha256"]
        data = self.live.get()
        if not is_content_hash(h) or h not in data.file_of_hash:
            return error(404, "no image with this content hash")
        body = data.thumbs.read(h)
        if body is None:  # not made yet (a build without thumbnails): made here, not stored
            try:
                body = make_thumbnail(data.file_of_hash[h], data.thumbs.size)
            except Exception:  # noqa: BLE001 - an unreadable file is a 404, not a crash
                return error(404, "no thumbnail for this image")
        return Response(body, media_type="image/webp", headers=IMMUTABLE)

    def point_thumb(self, request: Request) -> Response:
        """``/api/map/thumb?i=K``: the thumbnail of map point K (the page asks one at a time
        when the screen's images are spread over more atlas sheets than it keeps)."""
        points = self.live.points()
        try:
            i = Params(request.query_params.multi_items()).integer("i", 0, 2**31 - 1, None)
        except BadRequest as exc:
            return error(400, str(exc))
        if i is None or i >= points.n:
            return error(404 if i is not None else 400, "no such point on the map")
        body = thumbnail_store(Layout(self.live.home)).read(points.hashes[i].decode("ascii"))
        if body is None:
            return error(404, "no thumbnail for this image")
        return Response(body, media_type="image/webp", headers={"cache-control": "no-cache"})

    def atlas(self, request: Request) -> Response:
        name = request.path_params["name"]
        points = self.live.points()  # the map draws before the path finder is loaded
        sha = name[:-5] if name.endswith(".webp") else ""
        if not is_content_hash(sha) or sha not in points.atlas_files:
            return error(404, "no such atlas")
        try:
            body = (Layout(self.live.home).atlas_dir / f"{sha}.webp").read_bytes()
        except OSError:
            return error(404, "no such atlas")
        return Response(body, media_type="image/webp", headers=IMMUTABLE)
