"""The time figures the test suite used to assert, measured against references of the same run.

    python -m benchmarks.guards [--names 20000] [--repeats 5] [--guards resolve,fifo,...]

The tests check what these operations do; this benchmark says how long they take, each beside
a reference timed in the same run on the same box (best of ``--repeats``):

* resolve: :func:`~xdeg_pipeline.core.resolve.resolve_name` on ``--names`` collection names
  (one hit, one miss with suggestions), against one pass over the names (``in`` on each);
* fifo: :func:`~xdeg_pipeline.core.images.decode.load_rgb` refusing a FIFO (it must not wait for
  a writer), against decoding a 100 px PNG;
* lock: taking the build lock with ``wait=False`` after its holder was killed (``kill -9``),
  against taking a lock nobody held; the killed holder's start is not timed;
* stage: a stage that sleeps 0.2 s, as the runner records it (its overhead over the sleep), and
  the reuse of its outputs on the next run (against the recorded seconds);
* download: a manifest of failing URLs (a slow answer, a dripping body, a cut transfer, a
  server error; the tests' short limits) downloaded, against the bound those limits set
  (the total timeout of every attempt), and against as many good URLs.

The last line is one JSON object: per guard, its seconds, the reference's and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FAST = dict(timeout=1.0, total_timeout=2.0, retries=1, backoff=0.05, max_redirects=3,
            max_bytes=300_000)  # the download limits of the tests
HOLD = ("import sys, time\nfrom pathlib import Path\n"
        "from xdeg_pipeline.core.storage.atomic import build_lock\n"
        "with build_lock(Path(sys.argv[1]), wait=False):\n"
        "    print('held', flush=True); time.sleep(60)\n")


def best(fn: Callable[[], object], repeats: int) -> float:
    """Least seconds of ``repeats`` calls."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def figure(seconds: float, reference: float, what: str) -> dict:
    return {"seconds": round(seconds, 6), "reference_s": round(reference, 6),
            "ratio": round(seconds / reference, 4) if reference > 0 else None,
            "reference": what}


def resolve_guard(tmp: Path, args: argparse.Namespace) -> dict:
    from xdeg_pipeline.core.resolve import NameNotFound, resolve_name

    names = [f"folder{i % 50}/img_{i:06d}.png" for i in range(args.names)]
    hit = names[len(names) // 2].rsplit("/", 1)[1][:-4]

    def both() -> None:
        assert resolve_name(hit, names).endswith(f"/{hit}.png")
        try:
            resolve_name(hit[:-1] + "x", names)
        except NameNotFound:
            pass

    return figure(best(both, args.repeats), best(lambda: [n for n in names if hit in n],
                                                  args.repeats),
                  f"one pass over {len(names)} names")


def fifo_guard(tmp: Path, args: argparse.Namespace) -> dict:
    from PIL import Image

    from xdeg_pipeline.core.images.decode import ImageRejected, load_rgb

    os.mkfifo(tmp / "f.jpg")
    Image.new("RGB", (100, 100), (200, 40, 40)).save(tmp / "p.png")

    def refuse() -> None:
        try:
            load_rgb(tmp / "f.jpg")
        except ImageRejected as exc:
            assert exc.reason == "unreadable"

    return figure(best(refuse, args.repeats), best(lambda: load_rgb(tmp / "p.png"), args.repeats),
                  "decoding a 100 px PNG")


def lock_guard(tmp: Path, args: argparse.Namespace) -> dict:
    from xdeg_pipeline.core.storage.atomic import build_lock

    def fresh() -> None:
        with build_lock(Path(tempfile.mkdtemp(dir=tmp)), wait=False):
            pass

    def after_kill() -> float:
        home = Path(tempfile.mkdtemp(dir=tmp))
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "held"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        t0 = time.perf_counter()
        with build_lock(home, wait=False):
            pass
        return time.perf_counter() - t0

    killed = min(after_kill() for _ in range(min(args.repeats, 3)))
    return figure(killed, best(fresh, args.repeats), "taking a lock nobody held")


def stage_guard(tmp: Path, args: argparse.Namespace) -> dict:
    from xdeg_pipeline.core.stage import Outcome, Stage, StageRunner
    from xdeg_pipeline.core.storage.layout import Layout

    files = Layout(tmp / "stage-home")

    def slow(_: object) -> Outcome:
        time.sleep(0.2)
        return Outcome()

    first = StageRunner(files).run(Stage("slow", slow, params=(1,)))
    reused = StageRunner(files).run(Stage("slow", slow, params=(1,)))
    out = figure(first.seconds, 0.2, "the 0.2 s the stage sleeps")
    out["reuse"] = figure(reused.seconds, first.seconds, "the first run's seconds")
    out["reused"] = bool(reused.reused)
    return out


def download_guard(tmp: Path, args: argparse.Namespace) -> dict:
    import pandas as pd

    from xdeg_pipeline.core.sources import remote
    from xdeg_pipeline_tests.helpers.image_server import ImageServer, image_bytes

    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")  # this process only
    with ImageServer() as server:
        png = image_bytes(1)
        bad = [server.slow("/slow.png", png, delay=3.0),
               server.stream("/drip.png", 100_000, chunk=50, interval=0.1),
               server.truncated("/cut.png", image_bytes(5, size=256)),
               server.status("/broken.png", 500)]
        good = [server.image(f"/ok{i}.png", image_bytes(10 + i)) for i in range(len(bad))]

        def fetch(urls: list[str], tag: str) -> float:
            df = pd.DataFrame({"id": range(len(urls)), "url": urls})
            t0 = time.perf_counter()
            remote.download_all(df, "url", tmp / tag, tmp / tag / "failures.json",
                                workers=8, **FAST)
            return time.perf_counter() - t0

        failing, fine = fetch(bad, "bad"), fetch(good, "good")
    bound = FAST["total_timeout"] * (FAST["retries"] + 1) + FAST["backoff"]
    out = figure(failing, bound, "the limits' bound: total timeout x attempts + backoff")
    out["vs_good_urls"] = figure(failing, fine, f"{len(good)} good URLs")
    return out


RUNS: dict[str, Callable[[Path, argparse.Namespace], dict]] = {
    "resolve": resolve_guard, "fifo": fifo_guard, "lock": lock_guard, "stage": stage_guard,
    "download": download_guard}
GUARDS = tuple(RUNS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.guards",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--names", type=int, default=20_000, help="names for the resolve guard")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--guards", default=",".join(GUARDS), help=f"of {','.join(GUARDS)}")
    args = ap.parse_args(argv)
    chosen = [g for g in args.guards.split(",") if g]
    unknown = set(chosen) - set(GUARDS)
    if unknown:
        ap.error(f"unknown guards {sorted(unknown)}; choose from {', '.join(GUARDS)}")
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="xdeg-guards-") as tmp:
        for name in chosen:
            folder = Path(tmp) / name
            folder.mkdir()
            result[name] = RUNS[name](folder, args)
            r = result[name]
            print(f"{name:9s} {r['seconds'] * 1000:10.2f} ms  vs {r['reference']}: "
                  f"{r['reference_s'] * 1000:.2f} ms  ratio {r['ratio']}", flush=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
