"""Path quality as a viewer sees it: every mode, judged in spaces independent of the graph's.

    python -m benchmarks.path_quality [FOLDER ...] [--limit N] [--features FILE.parquet]
        [--pairs 200] [--hub-pairs 1000] [--seed 0] [--spaces visual,graph]
        [--pca 128] [--k 20] [--space l2] [--set NAME=V1,V2 ...]
        [--graph NAME=V1,V2 ...] [--modes shortest,smooth,steps]
        [--strips DIR [--strip-pairs FILE.json]] [--label NAME] [--reference]

Each FOLDER is a collection (:mod:`benchmarks.quality_data`: distinct images, topic folders,
EfficientNet-Lite0 features cached by content hash in ``--store``, default
``<tmp>/xdeg-bench/features``); without FOLDER, the demo collection (``--limit`` images of it).
The output names the collections used. ``--features`` takes the features from a parquet of
``content_hash`` and ``feature`` instead (one collection; e.g. features of another
preprocessing), so the same figures compare feature variants; the file must also hold the
features of the edited copies under ``<store>/edits`` (made by a first run) for the ``graph``
and ``full`` spaces.

The graph is built as the pipeline builds it (PCA, kNN, ``build_graph``, ``PathFinder``;
``--pca``, ``--k``, ``--space``, every ``--set NAME=...`` keyword of ``PathFinder`` and every
``--graph NAME=...`` keyword of ``build_graph`` (e.g. ``exits=0,10``) take comma-separated lists
to sweep). Chains are judged in these spaces (``--spaces``):

* ``visual`` (independent of the CNN; the headline): shape, colour and layout descriptors of
  the whole picture (:mod:`benchmarks.visual_space`);
* ``graph``: the space the graph is built in (the PCA projection, Euclidean);
* ``full``: the full normalised CNN features (chord distance), as the older evidence.

In each space: the near-duplicate distance is the median distance between an image and its
edited copies (JPEG, zoom 5%, shift 3%, rotation 3 degrees, brightness 5%;
:mod:`benchmarks.same_picture`), the natural step the median nearest-neighbour distance, the
bound the exact least possible largest step over the complete graph (the exact 8-step bound for
``steps`` X=7). Per mode and space: hops p50/p90/max; the share of near-duplicate steps
(shorter than the near-duplicate distance); step evenness (coefficient of variation of a
chain's steps, p50/p90); largest step / bound and mean step / bound (p50/p90); largest step /
max(bound, natural step); hub share (share of chain interiors on the 1% most-used images, over
``--hub-pairs`` pairs); same-topic share of steps (first folder below the root); query p50.
Issue 21 adds per space: *near-identical* steps (near-duplicate, or shorter than
SERIES_FRACTION natural steps and under half the chain's largest step: consecutive members of a
design series), shortest / longest step per chain (p10/p50) and the *crawl factor* (hops / the
fewest hops of any chain in the space's complete graph whose steps are all <= this chain's
largest; p50/p90/max). ``--stability FOLDER`` (images of another kind) adds the share of the
``--pairs`` chains that stay the same when ``--stability-share`` (1%) of them join: asked
afresh (``smooth``, ``steps``) and as a refresh of requested_paths answers them
(``*_answered_again``: the earlier chain while it holds and nothing truly better appeared).
``--reference`` adds the original recipe (:mod:`benchmarks.original_recipe`) as a row.
``--strips DIR`` draws chains as PNG strips (the pairs of ``--strip-pairs``, else the three
smooth chains with the most near-identical steps, then the largest crawl factor, whose pairs
it writes to DIR/LABEL-pairs.json); step distances and near-identical steps in the strips are
those of the
first judging space.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.demo_collection import real_collections
from benchmarks.original_recipe import original_recipe
from benchmarks.quality_data import (
    Collection,
    cached_features,
    collection_outlines,
    default_store,
    features_from_file,
    file_hashes,
    load_collection,
)
from benchmarks.quality_metrics import JudgingSpace, chain_figures, markdown_table, space_figures
from benchmarks.same_picture import edited_copies, near_duplicate_distance
from benchmarks.series_collection import run_steps
from benchmarks.visual_space import describe, visual_features
from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph
from xdeg_pipeline.core.graph.knn import knn_edges, knn_recall
from xdeg_pipeline.core.graph.knn_update import update_knn_edges
from xdeg_pipeline.core.graph.pca import fit_pca, l2_normalise
from xdeg_pipeline.core.graph.recolours import mark_recoloured, outline_distances
from xdeg_pipeline.core.graph.rerank import chord_distances, rerank_candidates
from xdeg_pipeline.core.paths import PathError, PathFinder
from xdeg_pipeline.core.paths.load_update import update_hub_load
from xdeg_pipeline.core.paths.pinned import better_than, check_pinned

STEPS_X = 7  # intermediate images for the steps mode (8 steps)
# A step shorter than this share of the natural step (and under half its chain's largest step)
# is near-identical: it joins two members of a design series (calibrated on the star series
# collection, benchmarks.series_collection: the p90 of the distances between consecutive
# members of its runs, over the natural step, in the full space; see docs/path_quality.md).
SERIES_FRACTION = 0.35


# ----------------------------------------------------------------------------- spaces
class Calibration:
    """Edited copies of a sample of the collection, described in every space."""

    def __init__(self, c: Collection, store: Path, sample: int, seed: int,
                 backbone: str, features: Path | None) -> None:
        from xdeg_pipeline.core.images.decode import content_hash

        copies = edited_copies(c.paths, c.hashes, store / "edits", sample, seed)
        self.index = np.array([i for i, _ in copies])
        files = [p for _, p in copies]
        hashes = [content_hash(p) for p in files]
        self.cnn: np.ndarray | None = None
        if features is None:
            keep, self.cnn = cached_features(files, hashes, store, backbone)
        else:
            known = set(file_hashes(features))
            keep = [i for i, h in enumerate(hashes) if h in known]
            if len(keep) == len(hashes):
                self.cnn = features_from_file(features, hashes)
            else:
                print(f"{features}: no features of the edited copies in {store / 'edits'}; "
                      "only the visual space can be judged")
        self.index = self.index[keep]
        self.visual = np.stack([describe(files[i]) for i in keep])

    def space(self, name: str, X: np.ndarray, copies: np.ndarray | None) -> JudgingSpace:
        if copies is None:
            raise SystemExit(f"space {name!r} needs CNN features of the edited copies "
                             "(or use --spaces visual)")
        nd, quart = near_duplicate_distance(X[self.index], copies)
        sp = JudgingSpace.of(name, X, nd, quart)
        sp.series_step = SERIES_FRACTION * sp.natural
        return sp


def judging_spaces(names: list[str], c: Collection, vis: np.ndarray, cal: Calibration,
                   model, cache: dict) -> dict[str, JudgingSpace]:
    """The judging spaces (made once per space and PCA setting: ``cache``)."""
    out = {}
    for name in names:
        key = (name, model.dim_out if name == "graph" else None)
        if key in cache:
            out[name] = cache[key]
            continue
        if name == "visual":
            out[name] = cal.space(name, vis, cal.visual)
        elif name == "full":
            out[name] = cal.space(name, l2_normalise(c.features),
                                  None if cal.cnn is None else l2_normalise(cal.cnn))
        elif name == "graph":
            out[name] = cal.space(name, model.transform(c.features),
                                  None if cal.cnn is None else model.transform(cal.cnn))
        else:
            raise SystemExit(f"unknown space {name!r} (visual, graph, full)")
        cache[key] = out[name]
    return out


# ----------------------------------------------------------------------------- runs
def build(F: np.ndarray, pca, k: int, space: str, seed: int, finder_kw: dict,
          graph_kw: dict | None = None, hashes: list[str] | None = None, model=None,
          previous=None, rerank: int = 0, update: tuple[list[str], pd.DataFrame] | None = None,
          outlines: tuple[np.ndarray, np.ndarray] | None = None):
    """PCA (``model`` kept if given, as the pipeline keeps it while a collection grows), kNN,
    graph (vertex attribute ``content_hash`` when ``hashes`` are given; the hub load stored as
    the pipeline stores it, carried over from ``previous`` where it allows) and the finder;
    also the kNN candidates. ``update``: the previous build's hashes and candidates, which the
    kNN table is updated from as the pipeline's stage updates it (else it is built).
    ``outlines`` (:func:`~benchmarks.quality_data.collection_outlines`): the recoloured edges
    are marked as the graph stage marks them (``graph_kw["recolour_distance"]``: the distance,
    default the pipeline's; 0: none marked)."""
    graph_kw = dict(graph_kw or {})
    recolour = graph_kw.pop("recolour_distance", None)
    t0 = time.perf_counter()
    model = fit_pca(F, pca, seed=seed) if model is None else model
    X = model.transform(F)
    ranks = rerank if rerank > 1 and pca is not None else 1
    if update is not None and hashes is not None:
        edges, _ = update_knn_edges(update[0], update[1], hashes, X, k=ranks * k, space=space)
    else:
        edges = knn_edges(X, k=ranks * k, space=space)
    candidates = edges
    if ranks > 1:  # candidates in the PCA space, the k nearest in full (the stage's rerank)
        old_to_new = None if update is None else pd.Index(hashes).get_indexer(update[0])
        candidates, edges, _ = rerank_candidates(
            edges, k, lambda a, b: chord_distances(F, a, b),
            None if update is None else update[1], old_to_new)
    t_knn = time.perf_counter()
    attrs = None if hashes is None else {"content_hash": list(hashes)}
    g = build_graph(edges, X, metric=space, vertex_attrs=attrs, **graph_kw)
    if outlines is not None:
        mark_recoloured(g, *outlines, limit=recolour)
    g, _ = update_hub_load(g, previous, basis="benchmark")
    t1 = time.perf_counter()
    finder = PathFinder(g, vectors=X, **finder_kw)  # vectors: what the pipeline's finder gets
    t2 = time.perf_counter()
    info = {"recall": round(knn_recall(X, edges, k, sample=300, seed=seed, space=space), 4),
            "edges": g.ecount(), "graph_s": round(t1 - t0, 2),
            "build_graph_s": round(t1 - t_knn, 2), "finder_s": round(t2 - t1, 2),
            "exits": g["params"].get("exits", 0),
            "recoloured_edges": g["params"].get("recoloured_edges", 0)}
    near = getattr(finder, "near_duplicates", None)  # absent before issue 12
    if near is not None:
        info["near_duplicates"] = {k_: (round(v, 4) if isinstance(v, float) else v)
                                   for k_, v in near.summary().items()}
    return model, finder, info, candidates


def run_queries(query, pairs: list[tuple[int, int]]):
    """Chains (None where there is none) and query times of ``query(s, t)`` over the pairs."""
    chains, times = [], []
    for s, t in pairs:
        t0 = time.perf_counter()
        chains.append(query(s, t))
        times.append(time.perf_counter() - t0)
    return chains, times


def mode_query(finder: PathFinder, mode: str):
    def query(s: int, t: int) -> list[int] | None:
        try:
            kw = {"steps": STEPS_X} if mode == "steps" else {}
            return finder.find(s, t, mode=mode, **kw)[0].vertices
        except PathError:
            return None

    return query


def mode_figures(chains, times, c: Collection, spaces, bounds, n_bound, seed,
                 outlines: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    fig = chain_figures(chains, times, c.topics, c.n, seed)
    if outlines is not None:
        fig["recoloured_steps"] = recoloured_share(chains[:n_bound], *outlines)
    fig["spaces"] = {}
    for name, sp in spaces.items():
        pairs_b = [(ch, b) for ch, b in zip(chains[:n_bound], bounds[name], strict=True)
                   if ch is not None]
        fig["spaces"][name] = space_figures(sp, [p[0] for p in pairs_b], [p[1] for p in pairs_b])
    return fig


def recoloured_share(chains, outline: np.ndarray, has: np.ndarray) -> float:
    """Share of the chains' steps that join two colourings of one drawing: outlines within
    ``params.RECOLOUR_DISTANCE`` (the pipeline's own test, whether or not the graph marks
    them: the same figure for every setting compared)."""
    ends = np.array([(a, b) for ch in chains if ch is not None
                     for a, b in zip(ch[:-1], ch[1:], strict=True)], dtype=np.int64)
    if not len(ends):
        return 0.0
    ok = has[ends[:, 0]] & has[ends[:, 1]]
    d = outline_distances(outline, ends[ok, 0], ends[ok, 1])
    return round(float((d <= params.RECOLOUR_DISTANCE).sum()) / len(ends), 4)


def _bounds(spaces, pairs, mode: str) -> dict[str, list[float]]:
    if mode == "steps":
        return {n: [sp.hop_bound(s, t, STEPS_X + 1) for s, t in pairs] for n, sp in spaces.items()}
    return {n: [sp.bottleneck(s, t) for s, t in pairs] for n, sp in spaces.items()}


# ----------------------------------------------------------------------------- stability
def far_images(folder: Path, c: Collection, count: int, args
               ) -> tuple[list[str], np.ndarray, list[Path]]:
    """``count`` images of ``folder`` (another kind of picture) with their features and files:
    of a seeded sample of 10 x ``count``, those farthest from the collection (full space)."""
    from benchmarks.quality_data import distinct_images

    paths, hashes = distinct_images(folder)
    known = set(c.hashes)
    pick = [i for i in np.random.default_rng(args.seed).permutation(len(paths))
            if hashes[i] not in known][: 10 * count]
    keep, feats = cached_features([paths[i] for i in pick], [hashes[i] for i in pick],
                                  args.store, args.backbone)
    F = np.asarray(feats, dtype=np.float32)
    nearest = (l2_normalise(F) @ l2_normalise(c.features).T).max(axis=1)
    far = np.argsort(nearest, kind="stable")[:count]
    chosen = [pick[keep[i]] for i in far]
    return [hashes[i] for i in chosen], F[far], [paths[i] for i in chosen]


def stability(args, c: Collection, model, finder_kw: dict, graph_kw: dict,
              pairs: list[tuple[int, int]], modes: list[str], before: dict,
              previous=None, old_finder: PathFinder | None = None,
              candidates: pd.DataFrame | None = None,
              outlines: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Share of chains unchanged when 1% images of another kind (``--stability FOLDER``) join
    the collection: the graph is built again with them as the pipeline builds it (the same
    PCA model; the kNN table updated from the first build's ``candidates``, or rebuilt without
    them), the same pairs asked again. ``before``: mode -> chains of the first graph;
    ``previous``: that graph (its hub load is carried over as the pipeline does; None: a fresh
    load). ``outlines``: the collection's, the added images' drawn too."""
    count = max(1, round(args.stability_share * c.n))
    hashes, extra, files = far_images(args.stability, c, count, args)
    F = np.concatenate([c.features, extra])
    if outlines is not None:
        more = collection_outlines(files, hashes)
        outlines = (np.concatenate([outlines[0], more[0]]), np.concatenate([outlines[1], more[1]]))
    update = None if candidates is None else (c.hashes, candidates)
    _, finder, _, _ = build(F, model.dim_out, args.k_one, args.space_one, args.seed, finder_kw,
                            graph_kw, c.hashes + hashes, model, previous, args.rerank, update,
                            outlines)
    out: dict = {"added": len(hashes), "load_base": finder.graph["params"].get("load_base")}
    for mode in modes:
        chains, _ = run_queries(mode_query(finder, mode), pairs)
        moved = [i for i, (a, b) in enumerate(zip(before[mode], chains, strict=True)) if a != b]
        changed = [(before[mode][i], chains[i]) for i in moved]
        out[mode] = round(1 - len(changed) / max(len(pairs), 1), 4)
        if old_finder is not None:  # of the changed ones: the least possible largest step moved
            out[f"{mode}_changed_bottleneck_moved"] = sum(
                not math.isclose(old_finder.bottleneck(*pairs[i]), finder.bottleneck(*pairs[i]),
                                 rel_tol=1e-6) for i in moved)
        # what requested_paths answers on a refresh (the earlier chain while it holds and
        # nothing truly better appeared: core.paths.pinned): share of chains unchanged
        out[f"{mode}_answered_again"] = round(
            1 - sum(not kept_again(finder, mode, before[mode][i], pairs[i]) for i in moved)
            / max(len(pairs), 1), 4)
        # of the changed ones: through an added image; the old chain still a chain of the graph
        out[f"{mode}_changed_through_added"] = sum(
            b is not None and max(b) >= c.n for _, b in changed)
        out[f"{mode}_changed_old_still_there"] = sum(
            a is not None and bool((finder.arcs.arc_of(np.array(a[:-1]), np.array(a[1:])) >= 0)
                                   .all()) for a, _ in changed)
    return out


def kept_again(finder: PathFinder, mode: str, earlier: list[int] | None,
               pair: tuple[int, int]) -> bool:
    """Whether a refresh of requested_paths answers ``earlier`` again for ``pair``: it still
    holds in the new graph (a step that is no longer an edge measured by the finder's vectors,
    the graph's space, as a query server's are) and the new graph's own chain is not truly
    better."""
    if earlier is None:
        return False
    steps = STEPS_X if mode == "steps" else None
    pinned, _ = check_pinned(finder.space, earlier, *pair, mode, steps)
    if pinned is None:
        return False
    fresh = finder.find(*pair, mode=mode, **({"steps": steps} if steps else {}))[0]
    return not better_than(finder.space, fresh, pinned, mode)


# ----------------------------------------------------------------------------- strips
def write_strips(out: Path, c: Collection, finder: PathFinder, space: JudgingSpace,
                 chains: list, strip_pairs: Path | None, label: str) -> list[str]:
    from xdeg_pipeline.core.pictures.render import path_strip_png

    out.mkdir(parents=True, exist_ok=True)
    rel = [str(p.relative_to(c.root)) for p in c.paths]
    if strip_pairs is not None:
        names = json.loads(strip_pairs.read_text())
        pairs = [(rel.index(a), rel.index(b)) for a, b in names]
    else:
        def wasted(ch):  # near-identical steps, then the crawl (hops over the fewest)
            v = np.asarray(ch)
            if len(v) < 2:
                return (0, 0.0)
            st = space.D[v[:-1], v[1:]].astype(np.float64)
            return (int(space.near_identical(st).sum()),
                    len(st) / max(space.fewest_hops(ch[0], ch[-1], float(st.max())), 1))

        ranked = sorted((ch for ch in chains if ch is not None), key=wasted, reverse=True)
        pairs = [(ch[0], ch[-1]) for ch in ranked[:3]]
        names = [[rel[s], rel[t]] for s, t in pairs]
        (out / f"{label}-pairs.json").write_text(json.dumps(names) + "\n")
    files = []
    for k, (s, t) in enumerate(pairs):
        v = finder.find(s, t, mode="smooth")[0].vertices
        st = space.D[np.asarray(v[:-1]), np.asarray(v[1:])].astype(np.float64)
        steps, nd = st.tolist(), int(space.near_identical(st).sum())
        fewest = space.fewest_hops(s, t, float(st.max())) if len(st) else 0
        png = out / f"{label}-{k}.png"
        path_strip_png([c.paths[i] for i in v], [Path(rel[i]).stem[:18] for i in v], png,
                       thumb=64, steps=steps, max_per_row=14,
                       title=f"{label}: smooth, {len(v) - 1} steps (fewest {fewest}), {nd} "
                             f"near-identical (steps: {space.name} distance)")
        files.append(str(png))
    return files


# ----------------------------------------------------------------------------- main
def _values(text: str) -> list:
    out = []
    for x in str(text).split(","):
        if x.lower() in ("none", "full"):
            out.append(None)
        else:
            out.append(int(x) if x.lstrip("-").isdigit() else float(x))
    return out


def _sweep(sets: list[str]) -> list[dict]:
    keys, values = [], []
    for item in sets:
        key, _, vals = item.partition("=")
        keys.append(key.replace("-", "_"))
        values.append(_values(vals))
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def evaluate_collection(args, folder: Path) -> dict:
    c = load_collection(folder, args.features, args.store, args.backbone)
    rng = np.random.default_rng(args.seed)
    n_pairs = max(args.pairs, args.hub_pairs)
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n_pairs:
        s, t = (int(x) for x in rng.integers(0, c.n, 2))
        if s != t:
            pairs.append((s, t))
    t0 = time.perf_counter()
    cal = Calibration(c, args.store, args.edit_sample, args.seed, args.backbone, args.features)
    vis = visual_features(c.paths, c.hashes, args.store)
    outlines = collection_outlines(c.paths, c.hashes)
    print(f"{folder}: {c.n} images; calibration and descriptors in "
          f"{time.perf_counter() - t0:.1f} s")
    report = {"collection": str(folder), "n": c.n, "topics": len(set(c.topics)),
              "pairs": args.pairs, "hub_pairs": n_pairs, "seed": args.seed, "configs": []}
    space_cache: dict = {}
    for pca, k, space in itertools.product(_values(args.pca), _values(args.k),
                                           args.space.split(",")):
        for graph_kw, finder_kw in itertools.product(_sweep(args.graph), _sweep(args.set)):
            model, finder, info, candidates = build(c.features, pca, k, space, args.seed,
                                                    finder_kw, graph_kw, c.hashes,
                                                    rerank=args.rerank, outlines=outlines)
            spaces = judging_spaces(args.spaces.split(","), c, vis, cal, model, space_cache)
            cfg = {"pca": pca, "k": k, "space": space, **graph_kw, **finder_kw, **info,
                   "spaces": {n: sp.summary() for n, sp in spaces.items()}, "modes": {}}
            asked: dict = {}
            for mode in args.modes.split(","):
                chains, times = run_queries(mode_query(finder, mode), pairs)
                asked[mode] = chains[: args.pairs]
                bounds = _bounds(spaces, pairs[: args.pairs], mode)
                cfg["modes"][mode] = mode_figures(chains, times, c, spaces, bounds, args.pairs,
                                                  args.seed, outlines)
                if args.strips and mode == "smooth":
                    first = next(iter(spaces.values()))
                    cfg["strips"] = write_strips(args.strips, c, finder, first,
                                                 chains[: args.pairs], args.strip_pairs,
                                                 args.label or folder.name)
            if args.stability is not None:
                args.k_one, args.space_one = k, space
                for key, prev in (("stability_fresh_load", None), ("stability", finder.graph)):
                    cfg[key] = stability(args, c, model, finder_kw, graph_kw,
                                         pairs[: args.pairs], list(asked), asked, prev,
                                         finder, None if args.stability_rebuild else candidates,
                                         outlines)
                    print(f"  {key}: {cfg[key]}")
            if args.reference:
                query, build_s = original_recipe(c.features, args.seed)
                chains, times = run_queries(query, pairs)
                bounds = _bounds(spaces, pairs[: args.pairs], "smooth")
                cfg["modes"]["original recipe"] = mode_figures(chains, times, c, spaces, bounds,
                                                               args.pairs, args.seed, outlines)
                cfg["reference_build_s"] = round(build_s, 2)
            print(f"\n{folder.name} (n={c.n}) pca={pca} k={k} space={space} {graph_kw} "
                  f"{finder_kw} {info}")
            for n_, sp in spaces.items():
                cfg["spaces"][n_]["series_runs"] = run_steps(c.root, c.paths, sp.D, sp.natural)
                print(f"  {n_}: {cfg['spaces'][n_]}")
            print(markdown_table(cfg["modes"], list(spaces)))
            report["configs"].append(cfg)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", type=Path, nargs="*", help="default: the demo collection")
    ap.add_argument("--limit", type=int, default=None, help="images of the demo collection")
    ap.add_argument("--features", type=Path, help="parquet of content_hash, feature")
    ap.add_argument("--store", type=Path, default=None, help="default <tmp>/xdeg-bench/features")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--hub-pairs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--edit-sample", type=int, default=100)
    ap.add_argument("--spaces", default="visual,graph")
    ap.add_argument("--pca", default=str(params.PCA_COMPONENTS))
    ap.add_argument("--k", default=str(params.KNN_K))
    ap.add_argument("--space", default=params.KNN_SPACE)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2",
                    help="a PathFinder keyword to sweep (repeatable)")
    ap.add_argument("--graph", action="append", default=[], metavar="NAME=V1,V2",
                    help="a build_graph keyword to sweep (repeatable; e.g. exits=0,10)")
    ap.add_argument("--modes", default="shortest,smooth,steps")
    ap.add_argument("--strips", type=Path)
    ap.add_argument("--strip-pairs", type=Path)
    ap.add_argument("--label", default="")
    ap.add_argument("--reference", action="store_true", help="add the original recipe")
    ap.add_argument("--stability", type=Path, metavar="FOLDER",
                    help="images of another kind: share of chains unchanged when some join")
    ap.add_argument("--stability-share", type=float, default=0.01)
    ap.add_argument("--stability-rebuild", action="store_true",
                    help="rebuild the kNN table with the added images (default: update it, "
                         "as the pipeline does)")
    ap.add_argument("--rerank", type=int, default=params.KNN_RERANK, metavar="R",
                    help="kNN candidates R x k in the PCA space, the k nearest in the full "
                    "features, as the knn_edges stage (1: the PCA space's own)")
    args = ap.parse_args()
    if args.features is not None and len(args.folders) != 1:
        raise SystemExit("--features goes with exactly one collection folder")
    folders, which = real_collections(args.folders, args.limit)
    args.store = default_store(args.store)
    print(f"collections: {which}")
    reports = [evaluate_collection(args, f) for f in folders]
    print(json.dumps({"collections_used": which, "collections": reports}))


if __name__ == "__main__":
    main()
