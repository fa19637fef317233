"""The ``xdeg`` command: demo, build and path, over the same Dagster definitions and core.

Settings come from the flags, then ``XDEG_*`` variables (:class:`core.settings.Settings`); the
command changes no environment variable and runs on the data folder's own Dagster instance.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

from xdeg_pipeline.core.collector import freeze_at_exit
from xdeg_pipeline.core.progress import is_terminal
from xdeg_pipeline.core.settings import Settings, SettingsError
from xdeg_pipeline.runs import (
    BuildFailed,
    import_pipeline,
    rejected_summary,
    run_build,
    run_paths,
)
from xdeg_pipeline.terminal import (
    chain_lines,
    rejected_lines,
    repaired_lines,
    show,
    summary_table,
)

EXIT_BAD_REQUEST = 2
EXIT_BUILD_FAILED = 1
EXIT_LOCKED = 3
DEMO_PAIRS = [("grinning face", "cat face"), ("sun", "moon"), ("red apple", "rocket")]

__all__ = ["BuildFailed", "build_parser", "demo_pair", "main", "run_build"]


def settings_from(args: argparse.Namespace, **flags: object) -> Settings:
    """The flags (None: not given) over the environment; progress resolved for this terminal:
    a bar on a terminal, else a line now and then."""
    settings = Settings.from_env(home=getattr(args, "home", None), **flags)
    return settings.replace(progress=settings.progress_mode(is_terminal(), fallback="lines"))


def cmd_demo(args: argparse.Namespace) -> int:
    from xdeg_pipeline.core.progress import progress_reporter
    from xdeg_pipeline.core.query import PathRequest, chain_id
    from xdeg_pipeline.core.sources.openmoji import render_openmoji
    from xdeg_pipeline.core.stage import Reporter
    from xdeg_pipeline.core.stages.paths import earlier_chains, open_collection
    from xdeg_pipeline.core.stages.shard_task import load_in_background

    base = settings_from(args, runtime=args.runtime)
    settings = base.replace(images_dir=base.layout.openmoji_images, manifest=None)
    t0 = time.perf_counter()
    if not settings.layout.image_features.exists():  # a first build: the model loads meanwhile
        load_in_background(tuple(settings.extractor_options().items()))
    dest = settings.images_root
    progress = progress_reporter("render", show=settings.progress)
    n = render_openmoji(dest, limit=args.limit, progress=progress)
    timings = {"render_openmoji": time.perf_counter() - t0}
    _err(f"default collection: {n} OpenMoji images in {dest}")
    import_pipeline()
    summary = run_build(quiet=True, settings=settings)
    timings["build"] = summary["seconds"]
    t1 = time.perf_counter()
    collection = open_collection(settings)
    source, target = demo_pair(collection)
    run_paths(settings, [(source, target)])  # requested_paths, materialised: the UI shows it
    request = PathRequest(source, target)  # the chain it answered (kept over rebuilds)
    earlier = earlier_chains(settings.layout, Reporter())
    chain = collection.find(request, earlier.get(chain_id(request), ()))[0]
    collection.render(chain, settings.layout.paths_folder("demo"),
                      attribution=collection.attribution)
    timings["path"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    graph = collection.graph
    print("\n".join(summary_table(summary)[:-1]))
    print(f"images: {graph.vcount()}  graph: {graph.vcount()} vertices, {graph.ecount()} edges")
    print("chain: " + " -> ".join(chain.path))
    print("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    print(f"picture: {chain.png}")
    print(f"page:    {chain.html}")
    print(f"map:     {settings.layout.collection_map_png}")
    home = "" if args.home is None else f" --home {settings.home}"
    print(f"explorer: make serve   (or: xdeg serve{home})  ->  http://127.0.0.1:8765/")
    return 0


def demo_pair(collection) -> tuple[str, str]:
    """A pair that makes a good first picture on the OpenMoji set, else a fallback."""
    from xdeg_pipeline.core.query import label_for
    from xdeg_pipeline.core.stages.paths import example_pair

    labels = {label_for(n, collection.openmoji): n for n in collection.names}
    for a, b in DEMO_PAIRS:
        if a in labels and b in labels:
            return labels[a], labels[b]
    return example_pair(collection)


def cmd_build(args: argparse.Namespace) -> int:
    settings = settings_from(args, images_dir=args.images, manifest=args.manifest,
                             iiif=args.iiif, runtime=args.runtime, vectors=args.vectors)
    import_pipeline()
    try:
        summary = run_build(quiet=args.json, settings=settings, verbose=args.verbose)
    except BuildFailed as exc:
        if args.json:
            failed = {"error": str(exc), "step": exc.step,
                      "rejected_images": rejected_summary(settings.layout)}
            print(json.dumps(failed, default=str))
        raise
    if args.json:
        print(json.dumps(summary, default=str))
        return 0
    print("\n".join(summary_table(summary)))
    print("\n".join(repaired_lines(summary)), end="\n" if summary.get("repaired") else "")
    print("\n".join(rejected_lines(summary["rejected_images"])))
    return 0


def _print_chain(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_dict(), ensure_ascii=False), flush=True)
    else:
        print("\n".join(chain_lines(result)))


def cmd_path(args: argparse.Namespace) -> int:
    from xdeg_pipeline.core.query import PathRequest, chain_id
    from xdeg_pipeline.core.stage import Reporter
    from xdeg_pipeline.core.stages.paths import earlier_chains, open_collection

    settings = settings_from(args, images_dir=args.images)
    try:
        collection = open_collection(settings)
    except (FileNotFoundError, PermissionError) as exc:  # no graph, or one outside the home
        _err(f"xdeg: {exc}")
        return EXIT_BAD_REQUEST
    options = {
        "mode": args.mode,
        "steps": args.steps,
        "alternatives": args.alternatives,
        "avoid": tuple(args.avoid or ()),
        "via": tuple(args.via or ()),
        "where": tuple(args.where or ()),
    }
    if args.mode == "steps" and args.steps is None:
        _err("xdeg: --mode steps needs --steps X (the number of intermediate images)")
        return EXIT_BAD_REQUEST
    if args.gif and Path(args.gif).suffix.lower() not in (".gif", ".webp"):
        _err(f"xdeg: --gif needs a .gif or .webp file name, not {args.gif!r}")
        return EXIT_BAD_REQUEST
    if args.steps is not None and args.mode == "smooth":
        options["mode"] = "steps"
    pairs = _pairs(args)
    if pairs is None:
        return EXIT_BAD_REQUEST
    if options["where"]:
        from xdeg_pipeline.core.images.filters import FilterError

        try:
            collection.filter(options["where"])
        except FilterError as exc:
            _err(f"xdeg: {exc}")
            return EXIT_BAD_REQUEST
    failures = 0
    earlier = earlier_chains(settings.layout, Reporter(warn=_err))  # the chains people saw
    for source, target in pairs:
        request = PathRequest(source=source, target=target, **options)
        try:
            results = collection.find(request, earlier.get(chain_id(request), ()))
        except (LookupError, ValueError) as exc:
            failures += 1
            message = exc.args[0] if exc.args else str(exc)
            if args.json:
                print(json.dumps({"source": source, "target": target, "error": message}))
            _err(f"xdeg: {message}")
            continue
        for result in results:
            if args.png or args.html:
                _write_pictures(collection, settings, result, args)
            if args.gif:
                _write_animation(collection, result, Path(args.gif))
            _print_chain(result, args.json)
    return EXIT_BAD_REQUEST if failures else 0


def _pairs(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    """The pairs asked for (None after telling what is wrong)."""
    if args.pairs:
        try:
            return _read_pairs(Path(args.pairs))
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
            _err(f"xdeg: cannot read pairs from {args.pairs}: {exc}")
            return None
    if args.source and args.target:
        return [(args.source, args.target)]
    _err("xdeg path: give SOURCE TARGET or --pairs FILE.csv")
    return None


def _write_pictures(collection, settings: Settings, result, args) -> None:
    """Render into the data folder, then copy where the user asked."""
    collection.render(result, settings.layout.paths_folder("cli"),
                      attribution=collection.attribution)
    if args.png:
        shutil.copyfile(result.png, args.png)
        result.png = Path(args.png)
    if args.html:
        shutil.copyfile(result.html, args.html)
        result.html = Path(args.html)


def _write_animation(collection, result, out: Path) -> None:
    """The chain as an animated GIF or WebP (by the file's suffix)."""
    collection.animate(result, out, attribution=collection.attribution)


def cmd_verify(args: argparse.Namespace) -> int:
    """Read every output and cache file against its recorded hash; ``--repair`` rebuilds the
    damaged ones (exit 0: nothing damaged, or all repaired)."""
    from xdeg_pipeline.core.stages.verify import mark_for_repair, verify
    from xdeg_pipeline.core.storage.integrity import relative

    settings = settings_from(args, images_dir=args.images)
    found = verify(settings.home)
    for f in found.damaged:
        print(f"damaged: {show(relative(settings.home, f.path))} ({f.owner}): {f.reason}")
    print(f"verified {found.files} files ({found.bytes / 2**20:.1f} MiB) in "
          f"{found.seconds:.2f} s: {len(found.damaged)} damaged")
    if not found.damaged:
        return 0
    if not args.repair:
        _err("xdeg: damaged files found: `xdeg verify --repair` rebuilds them")
        return EXIT_BUILD_FAILED
    for line in mark_for_repair(settings.home, found):
        print(f"repaired: {show(line)}")
    summary = run_build(quiet=True, settings=settings)
    print("\n".join(repaired_lines(summary)))
    again = verify(settings.home)
    print(f"verified again: {again.files} files, {len(again.damaged)} damaged")
    return EXIT_BUILD_FAILED if again.damaged else 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the explorer over the data folder (blocks until Ctrl-C)."""
    from xdeg_pipeline.explorer import serve
    from xdeg_pipeline.explorer.hosts import split_hosts

    settings = settings_from(args, images_dir=args.images, allowed_hosts=args.allowed_hosts)
    settings = settings.with_built_collection()
    if not settings.layout.similarity_graph.exists():
        _err(f"xdeg serve: no graph in {settings.home}: build it first (`xdeg build` or "
             "`make demo`)")
        return EXIT_BAD_REQUEST
    serve(settings.home, settings.images_root, host=args.host, port=args.port,
          openmoji=settings.openmoji, allowed_hosts=split_hosts(settings.allowed_hosts))
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
    home_help = "data folder (default $XDEG_HOME or data/)"
    images_help = "collection folder (default $XDEG_IMAGES)"
    runtime_help = ("inference runtime of the feature model: auto (default; CPU: OpenVINO), "
                    "torch, openvino, onnxruntime (default $XDEG_RUNTIME)")

    demo = sub.add_parser("demo", help="render OpenMoji, build everything, draw one path")
    demo.add_argument("--home", help=home_help)
    demo.add_argument("--limit", type=int, default=None, help="render only N emoji (quick look)")
    demo.add_argument("--runtime", help=runtime_help)
    demo.set_defaults(func=cmd_demo)

    build = sub.add_parser("build", help="materialise all assets for a collection")
    build.add_argument("--images", help=images_help)
    build.add_argument("--home", help=home_help)
    build.add_argument(
        "--manifest",
        help="CSV/TSV of image URLs (column url or 'Image URL', or $XDEG_URL_COLUMN) plus any "
        "metadata columns: downloads them into <home>/downloads (default $XDEG_MANIFEST)",
    )
    build.add_argument(
        "--iiif", metavar="URL-or-FILE",
        help="IIIF collection or manifest (Presentation 2.1 or 3.0): one image per canvas "
        "through its Image API, with label, credit, rights and link (default $XDEG_IIIF)",
    )
    build.add_argument("--runtime", help=runtime_help)
    build.add_argument(
        "--vectors", metavar="FILE.parquet",
        help="your own vectors (name or content_hash column + a float list column, 'vector' "
        "or $XDEG_VECTORS_COLUMN): features read from it, no model (default $XDEG_VECTORS)",
    )
    build.add_argument("--json", action="store_true", help="print one JSON summary")
    build.add_argument("-v", "--verbose", action="store_true",
                       help="also print Dagster's event log (INFO)")
    build.set_defaults(func=cmd_build)

    _add_path_command(sub, images_help, home_help)
    explain = sub.add_parser("explain", help="why two images are neighbours: similarity maps")
    explain.add_argument("a", help="an image (name, relative path or unambiguous stem)")
    explain.add_argument("b", help="another image")
    explain.add_argument("--png", help="write both images with their maps to this PNG file")
    explain.add_argument("--json", action="store_true", help="print the answer as JSON")
    explain.add_argument("--images", help=images_help)
    explain.add_argument("--home", help=home_help)
    explain.set_defaults(func=cmd_explain)
    from xdeg_pipeline.explorer.serve import DEFAULT_HOST, DEFAULT_PORT

    verify = sub.add_parser("verify", help="read every output and cache against its recorded "
                            "hash (bit rot); --repair rebuilds what is damaged")
    verify.add_argument("--repair", action="store_true", help="rebuild the damaged files")
    verify.add_argument("--images", help=images_help)
    verify.add_argument("--home", help=home_help)
    verify.set_defaults(func=cmd_verify)

    serve = sub.add_parser("serve", help="the explorer: a local web page over the built data")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"address to listen on (default {DEFAULT_HOST}; others are "
                       "reachable from the network: there is no authentication)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument("--allowed-hosts", help="more Host names to answer, comma-separated "
                       "(default: the loopback names and --host; XDEG_ALLOWED_HOSTS)")
    serve.add_argument("--images", help=images_help)
    serve.add_argument("--home", help=home_help)
    serve.set_defaults(func=cmd_serve)
    return parser


def _add_path_command(sub, images_help: str, home_help: str) -> None:
    """``xdeg path``: its arguments."""
    path = sub.add_parser("path", help="find a chain between two images")
    path.add_argument("source", nargs="?", help="relative name or unambiguous file-name stem")
    path.add_argument("target", nargs="?")
    path.add_argument("--pairs", help="CSV with columns source,target (one JSON line each)")
    path.add_argument("--mode", choices=["smooth", "shortest", "steps"], default="smooth")
    path.add_argument("--steps", type=int, default=None, help="exactly X intermediate images")
    path.add_argument("--alternatives", type=int, default=1, help="K distinct chains")
    path.add_argument("--avoid", nargs="+", default=None, help="images no chain may pass")
    path.add_argument("--via", action="append", default=None, metavar="NAME",
                      help="an image the chain must pass (repeatable: in the order given)")
    path.add_argument("--where", action="append", default=None, metavar="FILTER",
                      help="keep the chain inside a filter on the images' metadata: FIELD OP "
                      "VALUE, e.g. 'date<1900' or 'creator~klee' (ops = != ~ < <= > >=; "
                      "repeatable, or joined by AND)")
    path.add_argument("--json", action="store_true")
    path.add_argument("--png", help="also write the strip to this file")
    path.add_argument("--html", help="also write the HTML page to this file")
    path.add_argument("--gif", help="also write the chain as an animation (FILE.gif or .webp)")
    path.add_argument("--images", help=images_help)
    path.add_argument("--home", help=home_help)
    path.set_defaults(func=cmd_path)


def cmd_explain(args: argparse.Namespace) -> int:
    from xdeg_pipeline.core.features.explain import heat_png
    from xdeg_pipeline.core.stages.explain import explain_pair
    from xdeg_pipeline.core.stages.paths import open_collection
    from xdeg_pipeline.core.storage.atomic import write_bytes

    settings = settings_from(args, images_dir=args.images)
    try:
        collection = open_collection(settings)
        names = [collection.resolve(q) for q in (args.a, args.b)]
    except (FileNotFoundError, PermissionError, LookupError) as exc:
        _err(f"xdeg: {exc}")
        return EXIT_BAD_REQUEST
    pair = [(n, collection.graph.vs[collection.vertex_of_name[n]]["content_hash"],
             collection.image_path(n)) for n in names]
    answer, maps = explain_pair(settings.layout, pair[0], pair[1], with_pixels=bool(args.png))
    if args.png and maps is not None:
        write_bytes(heat_png(maps), Path(args.png))
    if args.json:
        print(json.dumps(answer))
    else:
        print(answer["sentence"])
        print(f"maps written to {args.png}" if args.png and maps is not None
              else answer.get("message", "(--png FILE draws the maps)"))
    return 0 if maps is not None or not args.png else EXIT_BAD_REQUEST


def main(argv: list[str] | None = None) -> int:
    freeze_at_exit()  # the process ends sooner (core/collector.py)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("xdeg: interrupted; the previous outputs are intact")
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        from xdeg_pipeline.core.storage.atomic import BuildLocked

        if isinstance(exc, BuildLocked):
            _err(f"xdeg: {exc}")
            return EXIT_LOCKED
        if isinstance(exc, BuildFailed):
            _err(f"xdeg: {exc}")
            return EXIT_BUILD_FAILED
        if isinstance(exc, SettingsError):
            _err(f"xdeg: {exc}")
            return EXIT_BAD_REQUEST
        return _fault(args, exc)


def _fault(args: argparse.Namespace, exc: BaseException) -> int:
    """A fault of the data folder or the instance (disk full, read-only...) in one line; other
    errors too, as one line: the traceback only with ``-v``."""
    from xdeg_pipeline.core.storage.faults import describe

    if getattr(args, "verbose", False):
        raise exc
    try:
        home = Settings.from_env(home=getattr(args, "home", None)).home
    except (SettingsError, TypeError):
        home = None
    line = describe(exc, home=home)
    if line is None:
        line = f"{type(exc).__name__}: {' '.join(str(exc).split())} (run with -v for details)"
    _err(f"xdeg: {line}")
    return EXIT_BUILD_FAILED


if __name__ == "__main__":
    sys.exit(main())
