"""The ``xdeg`` command: demo, build and path, over the same Dagster definitions and core."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from pathlib import Path

EXIT_BAD_REQUEST = 2
EXIT_BUILD_FAILED = 1


class BuildFailed(RuntimeError):
    """A build step raised (no usable image, missing folder...); ``step`` names it."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"build failed in {step}: {message}")
        self.step = step


def _setup_env(images: str | None = None, home: str | None = None) -> None:
    """Apply CLI options as environment, point Dagster at the data folder, enable the bar."""
    if images:
        os.environ["XDEG_IMAGES"] = str(Path(images).expanduser().resolve())
    if home:
        os.environ["XDEG_HOME"] = str(Path(home).expanduser().resolve())
    from xdeg_pipeline.core.settings import xdeg_home

    dagster_home = Path(os.environ.get("DAGSTER_HOME") or xdeg_home() / "dagster")
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").touch()
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ.setdefault("XDEG_PROGRESS_BAR", "1" if sys.stderr.isatty() else "0")


def _summary(result) -> dict:
    """One entry per asset: its materialisation metadata (numbers and short strings)."""
    out: dict = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = {}
        for key, value in mat.metadata.items():
            raw = getattr(value, "value", value)
            if isinstance(raw, (int, float, bool)) or (isinstance(raw, str) and len(raw) < 300):
                meta[key] = raw
        out[mat.asset_key.to_user_string()] = meta
    checks = {}
    for event in result.get_asset_check_evaluations():
        checks[event.check_name] = {
            "passed": event.passed,
            "asset": event.asset_key.to_user_string(),
        }
    if checks:
        out["checks"] = checks
    return out


def run_build(quiet: bool = False) -> dict:
    """Materialise every build asset (with their checks) on the local Dagster instance."""
    from dagster import DagsterInstance, materialize

    from xdeg_pipeline.assets import BUILD_ASSETS
    from xdeg_pipeline.checks import BUILD_CHECKS
    from xdeg_pipeline.core.atomic import build_lock
    from xdeg_pipeline.core.settings import xdeg_home
    from xdeg_pipeline.partitions import all_shards_tags
    from xdeg_pipeline.resources import XdegResource

    level = "WARNING" if quiet else "INFO"
    t0 = time.perf_counter()
    with build_lock(xdeg_home(), wait=False), DagsterInstance.get() as instance:
        result = materialize(
            [*BUILD_ASSETS, *BUILD_CHECKS],
            instance=instance,
            resources={"xdeg": XdegResource()},
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
            tags={"xdeg/source": "cli", **all_shards_tags()},  # every shard, one run
            raise_on_error=False,
        )
    if not result.success:
        raise _build_failure(result)
    summary = _summary(result)
    summary["rejected_images"] = _rejected_summary()
    summary["run_id"] = result.run_id
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary


def _build_failure(result) -> BuildFailed:
    """The first failed step of a run and its innermost error message."""
    for event in result.get_step_failure_events():
        error = event.event_specific_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        message = error.message.strip() if error is not None else "unknown error"
        return BuildFailed(event.step_key or "?", message)
    return BuildFailed("run", "the run did not succeed")


def _rejected_summary() -> dict:
    """The rejected_images table of the data folder: count, count per reason, every row."""
    from xdeg_pipeline.core.layout import Layout
    from xdeg_pipeline.core.settings import xdeg_home
    from xdeg_pipeline.core.tables import REJECTED_COLUMNS, read_rejected

    table = read_rejected(Layout(xdeg_home()).rejected_images)
    counts = table["reason"].value_counts().sort_index()
    return {
        "count": len(table),
        "by_reason": {str(k): int(v) for k, v in counts.items()},
        "rows": table[REJECTED_COLUMNS].astype(str).to_dict("records"),
    }


def _show(text: object) -> str:
    """Text for the terminal: control characters (newline, escape, ...) written as escapes."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text)
    )


def _collection():
    from xdeg_pipeline.core.query import Collection
    from xdeg_pipeline.core.settings import images_root, xdeg_home

    return Collection(xdeg_home(), images_root())


def cmd_demo(args: argparse.Namespace) -> int:
    from xdeg_pipeline.core.openmoji import render_openmoji
    from xdeg_pipeline.core.progress import progress_reporter
    from xdeg_pipeline.core.query import PathRequest
    from xdeg_pipeline.core.settings import default_collection

    os.environ.pop("XDEG_IMAGES", None)
    _setup_env(home=args.home)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    dest = default_collection()
    n = render_openmoji(dest, limit=args.limit, progress=progress_reporter("render", _err))
    timings["render_openmoji"] = round(time.perf_counter() - t0, 2)
    _err(f"default collection: {n} OpenMoji images in {dest}")
    summary = run_build(quiet=True)
    for key, meta in summary.items():
        if isinstance(meta, dict) and "seconds" in meta:
            timings[key] = meta["seconds"]
    t1 = time.perf_counter()
    collection = _collection()
    source, target = demo_pair(collection)
    chain = collection.find(PathRequest(source, target))[0]
    out_dir = collection.layout.paths_dir / "demo"
    collection.render(chain, out_dir, attribution=collection.attribution)
    timings["path"] = round(time.perf_counter() - t1, 2)
    timings["total"] = round(time.perf_counter() - t0, 2)
    graph = collection.graph
    print(f"images: {graph.vcount()}  graph: {graph.vcount()} vertices, {graph.ecount()} edges")
    print("chain: " + " -> ".join(chain.path))
    print("timings (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()))
    print(f"picture: {chain.png}")
    print(f"page:    {chain.html}")
    return 0


def demo_pair(collection) -> tuple[str, str]:
    """A pair that makes a good first picture on the OpenMoji set, else a fallback."""
    wanted = [("grinning face", "cat face"), ("sun", "moon"), ("red apple", "rocket")]
    from xdeg_pipeline.core.query import label_for

    labels = {label_for(n, collection.images_root): n for n in collection.names}
    for a, b in wanted:
        if a in labels and b in labels:
            return labels[a], labels[b]
    from xdeg_pipeline.assets.paths import example_pair

    return example_pair(collection)


def cmd_build(args: argparse.Namespace) -> int:
    if args.manifest:
        os.environ["XDEG_MANIFEST"] = str(Path(args.manifest).expanduser().resolve())
    _setup_env(images=args.images, home=args.home)
    try:
        summary = run_build(quiet=args.json)
    except BuildFailed as exc:
        if args.json:
            failed = {"error": str(exc), "step": exc.step, "rejected_images": _rejected_summary()}
            print(json.dumps(failed, default=str))
        raise
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        rejected = summary.pop("rejected_images")
        for key, meta in summary.items():
            print(f"{key}: {meta}")
        print(f"rejected_images: {rejected['count']} {rejected['by_reason'] or ''}".rstrip())
        for row in rejected["rows"]:
            detail = _show(row["detail"])
            print(f"  {_show(row['name'])}: {row['stage']} {row['reason']} ({detail})")
    return 0


def _print_chain(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_dict(), ensure_ascii=False), flush=True)
        return
    request = result.request
    print(f"{_show(request.source)} -> {_show(request.target)} ({request.mode}):")
    for i, name in enumerate(result.path):
        step = f"  (+{result.steps[i - 1]:.4f})" if i else ""
        print(f"  {i}. {_show(name)}{step}")
    print(f"  largest step {result.largest_step:.4f}, {len(result.path) - 1} steps")


def cmd_path(args: argparse.Namespace) -> int:
    from xdeg_pipeline.core.query import PathRequest

    _setup_env(images=args.images, home=args.home)
    try:
        collection = _collection()
    except (FileNotFoundError, PermissionError) as exc:  # no graph, or one outside the home
        _err(f"xdeg: {exc}")
        return EXIT_BAD_REQUEST
    options = {
        "mode": args.mode,
        "steps": args.steps,
        "alternatives": args.alternatives,
        "avoid": tuple(args.avoid or ()),
    }
    if args.mode == "steps" and args.steps is None:
        _err("xdeg: --mode steps needs --steps X (the number of intermediate images)")
        return EXIT_BAD_REQUEST
    if args.gif and Path(args.gif).suffix.lower() not in (".gif", ".webp"):
        _err(f"xdeg: --gif needs a .gif or .webp file name, not {args.gif!r}")
        return EXIT_BAD_REQUEST
    if args.steps is not None and args.mode == "smooth":
        options["mode"] = "steps"
    if args.pairs:
        try:
            pairs = _read_pairs(Path(args.pairs))
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
            _err(f"xdeg: cannot read pairs from {args.pairs}: {exc}")
            return EXIT_BAD_REQUEST
    elif args.source and args.target:
        pairs = [(args.source, args.target)]
    else:
        _err("xdeg path: give SOURCE TARGET or --pairs FILE.csv")
        return EXIT_BAD_REQUEST
    failures = 0
    for source, target in pairs:
        request = PathRequest(source=source, target=target, **options)
        try:
            results = collection.find(request)
        except (LookupError, ValueError) as exc:
            failures += 1
            message = exc.args[0] if exc.args else str(exc)
            if args.json:
                print(json.dumps({"source": source, "target": target, "error": message}))
            _err(f"xdeg: {message}")
            continue
        for result in results:
            if args.png or args.html:
                _write_pictures(collection, result, args)
            if args.gif:
                _write_animation(collection, result, Path(args.gif))
            _print_chain(result, args.json)
    return EXIT_BAD_REQUEST if failures else 0


def _write_pictures(collection, result, args) -> None:
    """Render into the data folder, then copy where the user asked."""
    out_dir = collection.layout.paths_dir / "cli"
    collection.render(result, out_dir, attribution=collection.attribution)
    if args.png:
        shutil.copyfile(result.png, args.png)
        result.png = Path(args.png)
    if args.html:
        shutil.copyfile(result.html, args.html)
        result.html = Path(args.html)


def _write_animation(collection, result, out: Path) -> None:
    """The chain as an animated GIF or WebP (by the file's suffix)."""
    from xdeg_pipeline.core.chain_animation import chain_animation

    chain_animation(
        [collection.image_path(n) for n in result.path],
        [collection.label(n) for n in result.path],
        out,
        steps=result.steps,
        attribution=collection.attribution,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the explorer over the data folder (blocks until Ctrl-C)."""
    from xdeg_pipeline.core.settings import images_root, xdeg_home
    from xdeg_pipeline.explorer import serve

    _setup_env(images=args.images, home=args.home)
    home = xdeg_home()
    if not (home / "similarity_graph.pkl").exists():
        _err(f"xdeg serve: no graph in {home}: build it first (`xdeg build` or `make demo`)")
        return EXIT_BAD_REQUEST
    serve(home, images_root(), host=args.host, port=args.port)
    return 0


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"source", "target"} <= set(reader.fieldnames):
            raise ValueError("needs the columns source,target")
        return [((row["source"] or "").strip(), (row["target"] or "").strip()) for row in reader]


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xdeg", description="X degrees of separation between images."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="render OpenMoji, build everything, draw one path")
    demo.add_argument("--home", help="data folder (default $XDEG_HOME or data/)")
    demo.add_argument("--limit", type=int, default=None, help="render only N emoji (quick look)")
    demo.set_defaults(func=cmd_demo)

    build = sub.add_parser("build", help="materialise all assets for a collection")
    build.add_argument("--images", help="collection folder (default $XDEG_IMAGES)")
    build.add_argument("--home", help="data folder (default $XDEG_HOME or data/)")
    build.add_argument(
        "--manifest",
        help="CSV/TSV of image URLs (column url or 'Image URL', or $XDEG_URL_COLUMN) plus any "
        "metadata columns: downloads them into <home>/downloads (default $XDEG_MANIFEST)",
    )
    build.add_argument("--json", action="store_true", help="print one JSON summary")
    build.set_defaults(func=cmd_build)

    path = sub.add_parser("path", help="find a chain between two images")
    path.add_argument("source", nargs="?", help="relative name or unambiguous file-name stem")
    path.add_argument("target", nargs="?")
    path.add_argument("--pairs", help="CSV with columns source,target (one JSON line each)")
    path.add_argument("--mode", choices=["smooth", "shortest", "steps"], default="smooth")
    path.add_argument("--steps", type=int, default=None, help="exactly X intermediate images")
    path.add_argument("--alternatives", type=int, default=1, help="K distinct chains")
    path.add_argument("--avoid", nargs="+", default=None, help="images no chain may pass")
    path.add_argument("--json", action="store_true")
    path.add_argument("--png", help="also write the strip to this file")
    path.add_argument("--html", help="also write the HTML page to this file")
    path.add_argument("--gif", help="also write the chain as an animation (FILE.gif or .webp)")
    path.add_argument("--images", help="collection folder (default $XDEG_IMAGES)")
    path.add_argument("--home", help="data folder (default $XDEG_HOME or data/)")
    path.set_defaults(func=cmd_path)
    from xdeg_pipeline.explorer.serve import DEFAULT_HOST, DEFAULT_PORT

    serve = sub.add_parser("serve", help="the explorer: a local web page over the built data")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"address to listen on (default {DEFAULT_HOST}; others are "
                       "reachable from the network: there is no authentication)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument("--images", help="collection folder (default $XDEG_IMAGES)")
    serve.add_argument("--home", help="data folder (default $XDEG_HOME or data/)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("xdeg: interrupted; the previous outputs are intact")
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        from xdeg_pipeline.core.atomic import BuildLocked

        if isinstance(exc, BuildLocked):
            _err(f"xdeg: {exc}")
            return 3
        if isinstance(exc, BuildFailed):
            _err(f"xdeg: {exc}")
            return EXIT_BUILD_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
