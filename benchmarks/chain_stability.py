"""Chains people have seen, after unrelated images arrive: what the explorer answers.

    python -m benchmarks.chain_stability [--images DIR] [--n 2000] [--far DIR] [--share 0.01]
                                         [--pairs 200] [--seed 0]

Builds ``--n`` images of a collection (default: the demo collection) with the pipeline
(``run_build`` on a real Dagster instance in a temporary folder), asks the explorer's
``/api/path`` for ``--pairs`` random pairs, adds ``--share`` of the collection as images of
another kind (``--far``, default: generated photographs, far from drawings), builds again
(incrementally, as a user would) and asks the same pairs:

* of the explorer that answered them before (it remembers its chains:
  ``paths/explorer_chains.parquet``), after it loaded the new build;
* of a fresh explorer that remembers nothing (the chains the new graph gives afresh).

Prints the share of chains unchanged either way (the target: >= 0.95), how many changed chains
pass an added image, and why the remembering explorer changed the ones it changed. The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import tempfile
from pathlib import Path

from benchmarks.demo_collection import real_collections
from benchmarks.feature_throughput import make_images
from benchmarks.incremental import _build, _copy
from benchmarks.quality_data import list_images


def _ask(client, pairs: list[tuple[str, str]]) -> list[dict]:
    out = []
    for a, b in pairs:
        r = client.get("/api/path", params={"source": a, "target": b})
        if r.status_code != 200:
            raise SystemExit(f"/api/path {a} -> {b}: {r.status_code} {r.text[:300]}")
        out.append(r.json()["chains"][0])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=Path, default=None, help="default: the demo collection")
    ap.add_argument("--n", type=int, default=2000, help="images of it in the first build")
    ap.add_argument("--far", type=Path, default=None,
                    help="images of another kind to add (default: generated photographs)")
    ap.add_argument("--share", type=float, default=0.01, help="added, as a share of --n")
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from starlette.testclient import TestClient

    from xdeg_pipeline.core.query import Collection
    from xdeg_pipeline.core.storage.layout import Layout
    from xdeg_pipeline.explorer.app import create_app

    (source,), which = real_collections([args.images] if args.images else None, args.n)
    files = list_images(source)[: args.n]
    print(f"collection: {which}; {len(files)} images")
    work = Path(tempfile.mkdtemp(prefix="xdeg-stability-"))
    try:
        images, home = work / "images", work / "home"
        _copy(source, images, files)
        first_s, _ = _build(images, home, True)  # run_build in this process
        names = Collection(home, images).names
        rng = random.Random(args.seed)
        pairs = []
        while len(pairs) < args.pairs:
            a, b = rng.sample(names, 2)
            pairs.append((a, b))
        app = create_app(home, images, check_every=3600)
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            before = _ask(client, pairs)
            count = max(1, round(args.share * len(files)))
            if args.far is not None:
                far = list_images(args.far)
                far = random.Random(args.seed).sample(far, min(count, len(far)))
                _copy(args.far, images / "added", far)
                kind = f"{len(far)} images of {args.far}"
            else:
                far = make_images(images / "added", count)
                kind = f"{len(far)} generated photographs"
            added = {f"added/{p.name}" for p in far} if args.far is None else {
                f"added/{p.relative_to(args.far)}" for p in far}
            second_s, _ = _build(images, home, True)
            app.state.live.reload_now()
            kept = _ask(client, pairs)
        Layout(home).explorer_chains.unlink(missing_ok=True)
        with TestClient(create_app(home, images, check_every=3600),
                        base_url="http://127.0.0.1:8765") as client:
            fresh = _ask(client, pairs)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def unchanged(after: list[dict]) -> float:
        return round(sum(a["path"] == b["path"] for a, b in zip(before, after, strict=True))
                     / len(pairs), 4)

    through = sum(a["path"] != b["path"] and bool(added & set(b["path"]))
                  for a, b in zip(before, fresh, strict=True))
    reasons = collections.Counter(c["earlier"]["reason"] for c in kept
                                  if c.get("earlier") and not c["earlier"]["kept"])
    print(f"added: {kind} ({args.share:.0%} of {len(files)}); builds {first_s:.1f} s, "
          f"then {second_s:.1f} s")
    print(f"chains unchanged, {len(pairs)} pairs: explorer that answered them before "
          f"{unchanged(kept):.3f}, a fresh explorer {unchanged(fresh):.3f} (target >= 0.95)")
    print(f"fresh chains that changed through an added image: {through}")
    for reason, n in reasons.most_common():
        print(f"  changed by the remembering explorer: {n} x {reason}")
    print(json.dumps({"collection": which, "images": len(files), "added": len(far),
                      "added_kind": kind, "pairs": len(pairs),
                      "unchanged_remembered": unchanged(kept), "unchanged_fresh":
                      unchanged(fresh), "fresh_changed_through_added": through,
                      "remembered_changed_reasons": dict(reasons), "target": 0.95,
                      "first_build_s": round(first_s, 1), "second_build_s": round(second_s, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
