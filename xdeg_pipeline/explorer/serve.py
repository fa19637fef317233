"""Run the explorer on uvicorn: 127.0.0.1 unless a host is given (then a warning)."""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_warning(host: str) -> str | None:
    """The warning printed when the explorer listens beyond this machine (None for loopback)."""
    if host in LOCAL_HOSTS:
        return None
    return (
        f"xdeg serve: listening on {host}: the explorer has NO authentication; anyone who can "
        "reach this address can browse the collection and run path searches"
    )


def serve(home: Path, images_root: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          log_level: str = "info", openmoji: bool = False,
          allowed_hosts: tuple[str, ...] = ()) -> None:
    """Serve the explorer of the data folder ``home`` until interrupted; it answers requests
    for the loopback names, ``host`` and ``allowed_hosts`` only (:mod:`.hosts`)."""
    import uvicorn

    from xdeg_pipeline.explorer.app import create_app

    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    app = create_app(Path(home), Path(images_root), openmoji=openmoji, host=host,
                     allowed_hosts=allowed_hosts)
    shown = f"[{host}]" if ":" in host else host
    print(f"xdeg explorer: http://{shown}:{port}/  (Ctrl-C stops it)", file=sys.stderr,
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                server_header=False)
