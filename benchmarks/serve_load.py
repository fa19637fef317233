"""Load on the explorer's /api/path: client-side and server-side latencies, p50/p95.

Starts ``xdeg serve``'s app (uvicorn, in a separate process so the load generator does not
share its interpreter) over a built data folder, warms it up, then sends random pairs: first
one at a time, then ``--concurrency`` at once. Client-side = request to full answer as this
process sees it; server-side = the path search inside the server (``Server-Timing: path``),
plus the time requests waited for the path finder (``queue``; one search runs at a time).
Every concurrent answer is compared with the sequential answer for the same request (its
chains; the second answer also says it is the chain answered before).

    python -m benchmarks.serve_load --home DATA --images FOLDER [--requests 500]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from xdeg_pipeline.core.storage.layout import Layout

_local = threading.local()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timing(header: str) -> dict[str, float]:
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        out[name] = float(dur)
    return out


def _get(port: int, query: dict) -> tuple[float, int, dict, dict]:
    """(client ms, status, body, server timing) over this thread's keep-alive connection."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    conn.request("GET", "/api/path?" + urllib.parse.urlencode(query))
    resp = conn.getresponse()
    body = json.loads(resp.read())
    ms = (time.perf_counter() - t0) * 1000
    return ms, resp.status, body, _timing(resp.getheader("server-timing") or "")


def _chains(body: dict) -> list[dict]:
    """The chains of an answer without ``earlier`` (the explorer says so when it answers a
    pair again with the chain it answered before: a second ask differs from the first there
    only)."""
    return [{k: v for k, v in chain.items() if k != "earlier"} for chain in body["chains"]]


def _pct(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {f"p{q}": round(float(np.percentile(a, q)), 2) for q in (50, 95)}


def _start(home: Path, images: Path, port: int) -> subprocess.Popen:
    code = ("import sys; from pathlib import Path; from xdeg_pipeline.explorer import serve; "
            "serve(Path(sys.argv[1]), Path(sys.argv[2]), port=int(sys.argv[3]), "
            "log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code, str(home), str(images), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the explorer exited while starting") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the explorer did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", required=True, help="built data folder")
    parser.add_argument("--images", required=True, help="its collection folder")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--mode", default="smooth", choices=["smooth", "steps", "shortest"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    home, images = Path(args.home).resolve(), Path(args.images).resolve()
    names = sorted(pd.read_parquet(Layout(home).raw_images, columns=["name"])["name"])
    rng = random.Random(args.seed)
    queries = []
    for _ in range(args.requests):
        a, b = rng.sample(names, 2)
        q = {"source": a, "target": b, "mode": args.mode}
        if args.mode == "steps":
            q["steps"] = rng.randint(2, 10)
        queries.append(q)
    port = _free_port()
    t0 = time.perf_counter()
    proc = _start(home, images, port)
    print(f"explorer up in {time.perf_counter() - t0:.1f} s on port {port}; {len(names)} names")
    try:
        for q in queries[:20]:  # warm-up
            _get(port, q)
        sequential = [_get(port, q) for q in queries]
        print("sequential: client", _pct([r[0] for r in sequential]),
              "server", _pct([r[3]["path"] for r in sequential if r[1] == 200]))
        t1 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            concurrent = list(pool.map(lambda q: _get(port, q), queries))
        wall = time.perf_counter() - t1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    ok = [r for r in concurrent if r[1] == 200]
    correct = sum(
        c[1] == s[1] == 200 and _chains(c[2]) == _chains(s[2])
        for c, s in zip(concurrent, sequential)
    )
    result = {
        "benchmark": "serve_load",
        "names": len(names),
        "mode": args.mode,
        "requests": len(queries),
        "concurrency": args.concurrency,
        "answered_200": len(ok),
        "same_as_sequential": correct,
        "all_correct": correct == len(queries),
        "requests_per_s": round(len(queries) / wall, 1),
        "sequential_client_ms": _pct([r[0] for r in sequential]),
        "sequential_server_ms": _pct([r[3]["path"] for r in sequential if r[1] == 200]),
        "client_ms": _pct([r[0] for r in concurrent]),
        "server_ms": _pct([r[3]["path"] for r in ok]),
        "server_queue_ms": _pct([r[3]["queue"] for r in ok]),
        "server_total_ms": _pct([r[3]["total"] for r in ok]),
    }
    print(f"concurrency {args.concurrency}: client {result['client_ms']} server "
          f"{result['server_ms']} queue {result['server_queue_ms']}; "
          f"{correct}/{len(queries)} equal to the sequential answers")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
