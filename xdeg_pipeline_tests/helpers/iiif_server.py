"""A IIIF publisher on 127.0.0.1 for the tests: the IIIF Image API reference implementation (the
``iiif`` package's Flask handlers with its PIL manipulator, API 2.1 and 3.0) over a folder of
images, and static JSON documents (manifests, collections) answered with an ``ETag`` (304 to a
matching ``If-None-Match``). Images can be made to answer 500; every request is counted.

The reference implementation's Flask handler never removes the file its PIL manipulator
writes for each answer (a ``NamedTemporaryFile(delete=False)`` in the system's temporary
folder): here the manipulator writes into the server's own temporary folder, removed when
the server stops."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask
from iiif.flask_utils import Config, add_handler
from iiif.manipulator_pil import IIIFManipulatorPIL
from werkzeug.serving import make_server

VERSIONS = ("2.1", "3.0")
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise


def _handler_config(api_version: str, image_dir: Path) -> Config:
    config = Config()
    values = {
        "api_version": api_version, "klass_name": "pil", "auth_type": "none",
        "prefix": f"iiif/{api_version}", "client_prefix": f"iiif/{api_version}",
        "include_osd": False, "image_dir": str(image_dir), "tile_width": 512,
        "tile_height": 512, "scale_factors": ["auto"], "scheme": "http", "host": "127.0.0.1",
        "port": 0, "access_cookie_lifetime": 3600, "access_token_lifetime": 10,
        "generator_dir": "", "container_prefix": "",
    }
    config.__dict__.update(values)
    return config


def _manipulator_writing_to(folder: str) -> type[IIIFManipulatorPIL]:
    """The reference PIL manipulator, with its answer files in ``folder``."""

    class Manipulator(IIIFManipulatorPIL):
        def do_format(self, format: str | None = None) -> None:
            if self.outfile is None:
                fd, self.outfile = tempfile.mkstemp(dir=folder)
                os.close(fd)
                self.outtmp = self.outfile
            super().do_format(format)

    return Manipulator


class IIIFServer:
    """``image_dir``: the pictures (``<identifier>.png``/``.jpg``). ``docs``: path under
    ``/docs/`` -> a JSON-able object, raw bytes, or an HTTP status. ``failing``: identifiers
    whose image requests answer 500. ``hits``: path -> requests."""

    def __init__(self, image_dir: Path) -> None:
        self.image_dir = Path(image_dir)
        self.docs: dict[str, Any] = {}
        self.failing: set[str] = set()
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        app = Flask("xdeg_iiif_test")
        self.configs = [_handler_config(v, self.image_dir) for v in VERSIONS]
        for config in self.configs:
            add_handler(app, config)
        self._answers = tempfile.TemporaryDirectory(prefix="xdeg-iiif-answers-")
        manipulator = _manipulator_writing_to(self._answers.name)
        for rule in app.url_map.iter_rules():
            if rule.defaults and "klass" in rule.defaults:
                rule.defaults["klass"] = manipulator
        self._app = app
        self._httpd = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        for config in self.configs:
            config.port = self._httpd.server_port
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def doc_url(self, path: str) -> str:
        return f"{self.base}/docs/{path}"

    def service(self, identifier: str, version: str = "2.1") -> str:
        """The Image API service id of an image."""
        return f"{self.base}/iiif/{version}/{identifier}"

    def image_requests(self) -> Counter[str]:
        """Requests of image content (not info.json, not documents)."""
        return Counter({p: n for p, n in self.hits.items()
                        if not p.startswith("/docs/") and not p.endswith("info.json")})

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        with self._lock:
            self.hits[path] += 1
        if path.startswith("/docs/"):
            return self._document(path[len("/docs/"):], environ, start_response)
        parts = path.strip("/").split("/")
        if len(parts) > 3 and parts[2] in self.failing:
            return _answer(start_response, 500, b"server error", "text/plain")
        return self._app(environ, start_response)

    def _document(self, name: str, environ: dict, start_response: Any) -> Any:
        value = self.docs.get(name, 404)
        if isinstance(value, int):
            return _answer(start_response, value, b"<html>error</html>", "text/html")
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            return _answer(start_response, 304, b"", "application/json", {"ETag": etag})
        return _answer(start_response, 200, body, "application/ld+json", {"ETag": etag})

    def __enter__(self) -> IIIFServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._answers.cleanup()


def _answer(start_response: Any, code: int, body: bytes, ctype: str,
            headers: dict[str, str] | None = None) -> list[bytes]:
    reasons = {200: "OK", 304: "Not Modified", 404: "Not Found", 500: "Internal Server Error"}
    start_response(f"{code} {reasons.get(code, 'Status')}",
                   [("Content-Type", ctype), ("Content-Length", str(len(body))),
                    *(headers or {}).items()])
    return [body]
