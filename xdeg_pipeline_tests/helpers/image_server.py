"""A real HTTP server on 127.0.0.1 (ephemeral port) whose routes serve images and every failure
a collection on the web can show: statuses, redirects, slow, dripping, huge and cut bodies.

Used by the download tests, the manifest end-to-end test and ``benchmarks.url_manifest``.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

from xdeg_pipeline_tests.helpers.collections import make_image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
Route = Callable[[BaseHTTPRequestHandler], None]


def image_bytes(seed: int, fmt: str = "PNG", size: int = 64) -> bytes:
    """A small generated picture (``make_image``), encoded as ``fmt``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = make_image(Path(tmp) / "x.png", seed, size)
        with Image.open(path) as im:
            buf = io.BytesIO()
            im.convert("RGB").save(buf, format=fmt)
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        owner: ImageServer = self.server.owner  # type: ignore[attr-defined]
        path = urllib.parse.urlsplit(self.path).path
        owner.count(path)
        route = owner.routes.get(path)
        try:
            if route is None:
                send(self, 404, b"<html>not found</html>", "text/html")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass


def send(h: BaseHTTPRequestHandler, code: int, body: bytes = b"", ctype: str = "image/png",
         headers: dict[str, str] | None = None) -> None:
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        h.send_header(key, value)
    h.end_headers()
    h.wfile.write(body)


class ImageServer:
    """A threaded HTTP server on 127.0.0.1 whose routes are set per test; counts hits."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # body bytes written by streaming routes
        self.started: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ImageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # routes ------------------------------------------------------------------

    def image(self, path: str, body: bytes, ctype: str = "image/png") -> str:
        self.routes[path] = lambda h: send(h, 200, body, ctype)
        return self.url(path)

    def status(self, path: str, code: int) -> str:
        self.routes[path] = lambda h: send(h, code, f"<h1>{code}</h1>".encode(), "text/html")
        return self.url(path)

    def flaky(self, path: str, body: bytes, failures: int = 1) -> str:
        def route(h: BaseHTTPRequestHandler) -> None:
            if self.hits[path] <= failures:
                send(h, 500, b"busy", "text/plain")
            else:
                send(h, 200, body)

        self.routes[path] = route
        return self.url(path)

    def redirect(self, path: str, location: str, code: int = 302) -> str:
        self.routes[path] = lambda h: send(h, code, b"", "text/html", {"Location": location})
        return self.url(path)

    def slow(self, path: str, body: bytes, delay: float) -> str:
        def route(h: BaseHTTPRequestHandler) -> None:
            time.sleep(delay)
            send(h, 200, body)

        self.routes[path] = route
        return self.url(path)

    def stream(self, path: str, total: int, *, declare: bool = True, chunk: int = 65536,
               interval: float = 0.0) -> str:
        """A PNG-looking body of ``total`` bytes, written ``chunk`` at a time."""
        started = self.started.setdefault(path, threading.Event())

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "image/png")
            if declare:
                h.send_header("Content-Length", str(total))
            h.end_headers()
            sent = 0
            while sent < total:
                piece = (PNG_MAGIC if sent == 0 else b"") + b"\0" * chunk
                piece = piece[: total - sent]
                h.wfile.write(piece)
                h.wfile.flush()
                sent += len(piece)
                with self._lock:
                    self.sent[path] += len(piece)
                started.set()
                if interval:
                    time.sleep(interval)

        self.routes[path] = route
        return self.url(path)

    def truncated(self, path: str, body: bytes) -> str:
        """Declares the full length, sends half, closes."""

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "image/png")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[: len(body) // 2])

        self.routes[path] = route
        return self.url(path)
