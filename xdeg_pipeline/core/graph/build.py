"""The similarity graph: igraph built in bulk from the kNN edge table, connected by construction.

Edges are the kNN edges made undirected (an edge wherever either end lists the other), plus
bridges: while the graph has several components, every component is joined to the rest by its
exact nearest pair of vectors, choosing the bridges as the minimum spanning tree of the
components' least distances (single linkage over blocked BLAS distances). Those are the edges
the minimum spanning tree of the complete graph uses to cross the gaps, so every pair of images
has a path and the smoothest path across components is as good as the complete graph allows.
Above a work budget (huge collections with many components) the search uses a bounded sample of
each component's rows; ``graph["params"]["bridging"]`` says which was used.

Long-range edges (attribute ``long``) bound the hop distance for the ``steps`` mode: every image
is joined to its nearest of ~2 sqrt(n) random landmarks (drawn from the images outside dense
groups and one member of each group, see :mod:`.exits`; ``landmarks_spread``)
and the landmarks to each other, so any two images are <= 3 hops apart and a chain with any
number (>= 2) of intermediate images exists. Only ``steps`` uses them, and only where the kNN
edges cannot do it in that many steps (it minimises the largest step); ``shortest`` and
``smooth`` ignore them.

Edge attributes: ``weight`` (the step distance in the features' space), ``mutual`` (both ends
list each other), ``bridge`` (added for connectivity), ``long`` (landmark edge), ``exit`` (a
distinct exit: an edge out of a dense group whose members' kNN lists hold few distinct
pictures, :mod:`xdeg_pipeline.core.graph.exits`; ``graph["params"]["exits"]`` counts them, and
``exits=0`` turns them off). Vertex
attributes: those passed in ``vertex_attrs`` plus ``sigma`` (local scale: distance to the
``sigma_k``-th neighbour). The hub load path search uses is estimated on the built graph by
the path layer (:func:`xdeg_pipeline.core.paths.load.attach_hub_load`, called by the graph stage).
``graph["params"]["pair_median"]`` is the median distance between random pairs of images, the
scale near-duplicates are measured against (:mod:`xdeg_pipeline.core.graph.near_duplicates`).
"""

from __future__ import annotations

import math
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from xdeg_pipeline.core import params as defaults
from xdeg_pipeline.core.arrays import contained, sorted_unique
from xdeg_pipeline.core.graph.distances import Prepared, check_space, pair_distances
from xdeg_pipeline.core.graph.exits import ExitSettings, exit_edges
from xdeg_pipeline.core.graph.igraph_import import igraph as ig
from xdeg_pipeline.core.graph.knn_partitioned import Runner
from xdeg_pipeline.core.graph.lean import LeanGraph, igraph_of_edges
from xdeg_pipeline.core.graph.near_duplicates import nearest_distances, pair_median, step_scale
from xdeg_pipeline.core.graph.pickled import dump_graph, load_lean
from xdeg_pipeline.core.graph.sampling import ranked_sample, vertex_keys
from xdeg_pipeline.core.storage.atomic import write_with

DISTANCE_PROBE = 512  # kNN pairs measured again before the table's distances are taken
BRIDGE_BUDGET = 5e8  # distance evaluations (rows x columns) before the bridge search samples


def _closest_pair(pa: tuple, pb: tuple) -> tuple[int, int]:
    """Closest pair between two row sets, each ``(rows, prepared rows, X rows)``:
    exact when small, else alternating nearest-point descent (a local minimum)."""
    ca, Ba, Xa = pa
    cb, Bb, Xb = pb
    if len(ca) * len(cb) <= 4_000_000:
        best = (np.inf, -1, -1)
        block = max(1, 4_000_000 // max(len(cb), 1))
        for lo in range(0, len(ca), block):
            D = Bb.distances(Xa[lo : lo + block])
            i, j = np.unravel_index(int(np.argmin(D)), D.shape)
            if D[i, j] < best[0]:
                best = (float(D[i, j]), int(ca[lo + i]), int(cb[j]))
        return best[1], best[2]
    # start from the row of ca nearest to cb's centroid, then alternate nearest-point steps
    i = int(np.argmin(Ba.distances(Xb.mean(axis=0, keepdims=True))[0]))
    j = -1
    for _ in range(8):  # each step can only shorten the pair
        j_new = int(np.argmin(Bb.distances(Xa[i : i + 1])[0]))
        i = int(np.argmin(Ba.distances(Xb[j_new : j_new + 1])[0]))
        if j_new == j:
            break
        j = j_new
    return int(ca[i]), int(cb[j])


def bridge_components(
    X: np.ndarray, labels: np.ndarray, space: str, seed: int = 0
) -> tuple[list[tuple[int, int, float]], str]:
    """Edges joining all components (``labels``: component id per row) by their nearest pairs.

    One blocked pass computes, for every pair of components, the least distance between them
    (rows outside the largest component against all rows; distances are symmetric). The
    minimum spanning tree of that component graph picks the bridges (single linkage), and each
    bridge is the exact closest pair of its two components. Above :data:`BRIDGE_BUDGET` the
    pass uses a bounded sample of rows per component ("sampled"). Returns (edges, mode).
    """
    n = X.shape[0]
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    base = Prepared.of(X32, space)
    n_comp = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=n_comp)
    largest = int(np.argmax(sizes))
    rows = np.flatnonzero(labels != largest)
    mode = "exact"
    if len(rows) * n > BRIDGE_BUDGET:
        mode = "sampled"
        rng = np.random.default_rng(seed)
        cap = max(1, int(BRIDGE_BUDGET / n / max(n_comp - 1, 1)))
        keep = []
        for c in np.flatnonzero(sizes):
            members = np.flatnonzero(labels == c)
            if c != largest:
                keep.append(members if len(members) <= cap else rng.choice(members, cap, False))
        rows = np.sort(np.concatenate(keep))
    perm = np.argsort(labels, kind="stable")  # columns grouped by component
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    M = np.full((n_comp, n_comp), np.inf)
    block = max(1, min(4096, 16_000_000 // max(n, 1)))
    cols = base.subset(perm)
    for lo in range(0, len(rows), block):
        r = rows[lo : lo + block]
        D = cols.distances(X32[r])
        per_comp = np.minimum.reduceat(D, starts, axis=1)  # (rows, components)
        np.minimum.at(M, labels[r], per_comp)
    M = np.minimum(M, M.T)
    np.fill_diagonal(M, np.inf)
    shift = 1e-9 * max(float(M[np.isfinite(M)].max(initial=0.0)), 1e-30)
    T = minimum_spanning_tree(np.where(np.isfinite(M), M + shift, 0.0)).tocoo()
    bridges = []
    parts: dict[int, tuple] = {}  # component -> (rows, prepared rows, X rows)

    def part(c: int) -> tuple:
        if c not in parts:
            r = perm[starts[c] : starts[c] + sizes[c]]
            parts[c] = (r, base.subset(r), X32[r])
        return parts[c]

    for ca_id, cb_id in zip(T.row.tolist(), T.col.tolist(), strict=True):
        pa, pb = part(ca_id), part(cb_id)
        if len(pa[0]) > len(pb[0]):
            pa, pb = pb, pa
        a, b = _closest_pair(pa, pb)
        d = float(pair_distances(X32, np.array([a]), np.array([b]), space)[0])
        bridges.append((a, b, d))
    return bridges, mode


def long_range_edges(
    X: np.ndarray, space: str, n_landmarks: int, seed: int = 0,
    eligible: np.ndarray | None = None, keys: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Landmark edges bounding the hop distance: every vertex to its nearest of a sample of
    landmarks drawn by the vertices' ``keys`` (:func:`~.sampling.ranked_sample`; default: by
    id, so the landmarks stay when images are added), and the landmarks to each other (any
    pair: <= 3 hops)."""
    n = X.shape[0]
    L = min(n_landmarks, n)
    if L < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pool = np.arange(n) if eligible is None or len(eligible) < L else np.asarray(eligible)
    keys = vertex_keys(None, n) if keys is None else keys
    marks = ranked_sample(keys, L, seed, pool)
    at_marks = Prepared.of(X[marks], space)
    nearest = np.empty(n, dtype=np.int64)
    block = max(1, 16_000_000 // L)
    for lo in range(0, n, block):
        D = at_marks.distances(X[lo : lo + block])
        rows = np.arange(lo, min(lo + block, n))
        D[rows[:, None] == marks[None, :]] = np.inf  # a landmark's nearest other landmark
        nearest[rows] = marks[np.argmin(D, axis=1)]
    iu, ju = np.triu_indices(L, k=1)
    a = np.concatenate([np.arange(n), marks[iu]])
    b = np.concatenate([nearest, marks[ju]])
    return a, b


def _local_scale(n: int, src: np.ndarray, dist: np.ndarray, sigma_k: int) -> np.ndarray:
    """Distance from each vertex to its ``sigma_k``-th nearest listed neighbour."""
    order = np.lexsort((dist, src))
    s, d = src[order], dist[order]
    starts = np.searchsorted(s, np.arange(n), side="left")
    ends = np.searchsorted(s, np.arange(n), side="right")
    count = ends - starts
    sigma = np.full(n, np.nan)
    has = count > 0
    pick = starts[has] + np.minimum(count[has], sigma_k) - 1
    sigma[has] = d[pick]
    positive = sigma[np.isfinite(sigma) & (sigma > 0)]
    floor = 1e-3 * float(np.median(positive)) if len(positive) else 1.0
    sigma = np.where(np.isfinite(sigma), sigma, np.nan)
    sigma[np.isnan(sigma)] = float(np.median(positive)) if len(positive) else 1.0
    return np.maximum(sigma, floor)


@dataclass
class _Edges:
    """Undirected edges (a < b) and their attributes, in the order they become igraph edges."""

    a: np.ndarray
    b: np.ndarray
    w: np.ndarray
    mutual: np.ndarray
    bridge: np.ndarray
    long: np.ndarray
    exit: np.ndarray

    def extend(self, a: np.ndarray, b: np.ndarray, w: np.ndarray, *, bridge=False, long=False,
               exit=False):
        """Append edges (not mutual kNN edges; ``bridge``/``long``/``exit`` says which kind)."""
        k = len(a)
        self.a = np.concatenate([self.a, np.minimum(a, b)])
        self.b = np.concatenate([self.b, np.maximum(a, b)])
        self.w = np.concatenate([self.w, w])
        self.mutual = np.concatenate([self.mutual, np.zeros(k, bool)])
        self.bridge = np.concatenate([self.bridge, np.full(k, bridge)])
        self.long = np.concatenate([self.long, np.full(k, long)])
        self.exit = np.concatenate([self.exit, np.full(k, exit)])


def _knn_pairs(edges: pd.DataFrame, X: np.ndarray, metric: str) -> tuple[np.ndarray, ...]:
    """Directed kNN pairs (self-loops dropped) and their exact distances in ``metric``: the
    table's own ``distance`` column where a sample of its pairs measured again agrees with it
    (the kNN stage measures them in the same space; 0.2 s a build at 4,000 images), else all
    measured here."""
    n = X.shape[0]
    src = edges["source"].to_numpy(np.int64)
    dst = edges["target"].to_numpy(np.int64)
    if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise ValueError(f"edge endpoints must be rows of X (0..{n - 1})")
    keep = src != dst
    src, dst = src[keep], dst[keep]
    if "distance" in edges and len(src):
        told = edges["distance"].to_numpy(np.float32)[keep]
        probe = np.random.default_rng(len(src)).choice(len(src), min(len(src), DISTANCE_PROBE),
                                                       replace=False)
        measured = pair_distances(X, src[probe], dst[probe], metric)
        if np.allclose(told[probe], measured, rtol=1e-5, atol=1e-6):
            return src, dst, told
    return src, dst, pair_distances(X, src, dst, metric)


def _undirected(n: int, src: np.ndarray, dst: np.ndarray, d_dir: np.ndarray) -> _Edges:
    """One edge wherever either end lists the other; ``mutual`` where both do."""
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    _, first, count = np.unique(lo * n + hi, return_index=True, return_counts=True)
    m = len(first)
    w = d_dir[first].astype(np.float64)
    no = np.zeros(m, bool)
    return _Edges(lo[first], hi[first], w, count > 1, no, no.copy(), no.copy())


def _components(n: int, e: _Edges) -> tuple[int, np.ndarray]:
    """Number of connected components and the component of each vertex."""
    if not n:
        return 0, np.zeros(0, int)
    A = coo_matrix((np.ones(len(e.a)), (e.a, e.b)), shape=(n, n))
    return connected_components(A, directed=False)


def _add_bridges(e: _Edges, X: np.ndarray, metric: str) -> tuple[int, int, str]:
    """Join all components by their nearest pairs: (components before, bridges, bridging)."""
    n_comp, labels = _components(X.shape[0], e)
    bridges, mode = bridge_components(X, labels, metric) if n_comp > 1 else ([], "none")
    if bridges:
        ends = np.array([(p, q) for p, q, _ in bridges], dtype=np.int64)
        w = np.array([d for _, _, d in bridges], dtype=np.float64)
        e.extend(ends[:, 0], ends[:, 1], w, bridge=True)
    return int(n_comp), len(bridges), mode


def _add_exits(e: _Edges, X: np.ndarray, metric: str, knn: tuple, pm: float, given: dict,
               partition_above: int = 0, runner: Runner | None = None
               ) -> tuple[dict, np.ndarray]:
    """Add the distinct-exit edges (:mod:`xdeg_pipeline.core.graph.exits`) for the directed kNN
    pairs ``knn``; returns what the search saw (``info`` of :class:`~.exits.Exits`)."""
    settings = ExitSettings.of(want=given.get("exits"), in_cap=given.get("exit_in_cap"),
                               max_step=given.get("exit_max_step"),
                               group_fraction=given.get("exit_group_fraction"))
    near_dup = defaults.NEAR_DUP_FRACTION * pm
    natural = step_scale(nearest_distances(X.shape[0], e.a, e.b, e.w), near_dup).natural
    found = exit_edges(X, *knn, metric, near_dup, natural, settings,
                       partition_above=partition_above, runner=runner)
    if len(found.a):
        e.extend(found.a, found.b, found.w.astype(np.float64), exit=True)
    info = {**found.info, "exit_settings": asdict(settings)}  # "exits": the count made
    return info, found.labels


def _add_landmarks(e: _Edges, X: np.ndarray, metric: str, n_marks: int,
                   eligible: np.ndarray | None = None, keys: np.ndarray | None = None) -> int:
    """Add the landmark edges that are not edges yet; returns how many were added."""
    n = X.shape[0]
    if n_marks < 2 or n <= 2:
        return 0
    la, lb = long_range_edges(X, metric, n_marks, eligible=eligible, keys=keys)
    lkey = sorted_unique(np.minimum(la, lb) * n + np.maximum(la, lb))
    lkey = lkey[~contained(lkey, e.a * n + e.b)]  # already an edge: keep it as it is
    la, lb = lkey // n, lkey % n
    e.extend(la, lb, pair_distances(X, la, lb, metric).astype(np.float64), long=True)
    return len(la)


def _assemble(n: int, e: _Edges, vertex_attrs: dict[str, list]) -> ig.Graph:
    """The igraph graph, built in one bulk call, with edge and vertex attributes."""
    for name, values in vertex_attrs.items():
        if len(values) != n:
            raise ValueError(f"vertex attribute {name!r} has {len(values)} values for {n} rows")
    g = igraph_of_edges(n, np.column_stack([e.a, e.b]))
    g.es["weight"] = e.w.tolist()
    g.es["mutual"] = e.mutual.tolist()
    g.es["bridge"] = e.bridge.tolist()
    g.es["long"] = e.long.tolist()
    g.es["exit"] = e.exit.tolist()
    for name, values in vertex_attrs.items():
        g.vs[name] = list(values)
    return g


def build_graph(
    edges: pd.DataFrame,
    X: np.ndarray,
    vertex_attrs: dict[str, list] | None = None,
    *,
    partition_above: int = 0,
    runner: Runner | None = None,
    **params,
) -> ig.Graph:
    """Undirected, connected similarity graph over the rows of X, built in one bulk call.

    ``edges``: kNN table (source, target[, distance, rank]); weights are the distances of X in
    ``params["metric"]`` (default :data:`params.KNN_SPACE`): the table's own where a sample
    measured again agrees. ``sigma_k`` sets the local scale.
    Every other keyword is recorded in ``graph["params"]``. Above ``partition_above`` rows (0:
    never) the exit search runs in k-means partitions, as tasks of ``runner``
    (:func:`.exits.exit_edges`).
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    metric = check_space(params.get("metric", defaults.KNN_SPACE))
    sigma_k = int(params.get("sigma_k", defaults.SIGMA_K))
    src, dst, d_dir = _knn_pairs(edges, X, metric)
    sigma = _local_scale(n, src, d_dir.astype(np.float64), sigma_k)
    e = _undirected(n, src, dst, d_dir)
    keys = vertex_keys((vertex_attrs or {}).get("content_hash"), n)  # samples that stay put
    pm = pair_median(X, metric, keys=keys)
    exits, dense = _add_exits(e, X, metric, (src, dst, d_dir.astype(np.float64)), pm, params,
                              partition_above, runner)
    n_comp, n_bridges, bridging = _add_bridges(e, X, metric)
    n_marks = int(params.get("landmarks", min(defaults.LANDMARKS_MAX, math.ceil(2 * n**0.5))))
    eligible = None
    if params.get("landmarks_spread", defaults.LANDMARKS_SPREAD) and len(dense):
        # landmarks: images outside dense groups and one member (the lowest id) of each group
        _, first = np.unique(dense, return_index=True)
        eligible = np.sort(np.concatenate([np.flatnonzero(dense < 0), first[dense[first] >= 0]]))
    n_long = _add_landmarks(e, X, metric, n_marks, eligible, keys)
    g = _assemble(n, e, {"sigma": sigma.tolist(), **(vertex_attrs or {})})
    g["cut_vertices"] = cut_vertices(g)
    g["params"] = {
        **params,
        "metric": metric,
        "sigma_k": sigma_k,
        "n_vertices": n,
        "n_edges": g.ecount(),
        "knn_k": int(edges["rank"].max()) if "rank" in edges and len(edges) else None,
        "components_before_bridging": n_comp,
        "bridges": n_bridges,
        "bridging": bridging,
        "landmarks": n_marks,
        "long_edges": n_long,
        "pair_median": pm,  # the scale of near-duplicates (near_duplicates)
        **exits,  # distinct exits (exits): how many, and the dense groups they were made for
    }
    return g


def cut_vertices(graph: ig.Graph, long_e: np.ndarray | None = None) -> list[int]:
    """The articulation points of the graph without its long-range edges (``long_e``, default
    the ``long`` edge attribute), sorted: the images that every route between two parts of
    the collection passes. Stored with the graph (``graph["cut_vertices"]``), so that a query
    side without an igraph object (:class:`.lean.LeanGraph`) need not build one for
    alternative chains."""
    if long_e is None and "long" in graph.es.attributes():
        long_e = np.asarray(graph.es["long"], bool)
    if long_e is not None and long_e.any():
        short = np.flatnonzero(~np.asarray(long_e, bool)).tolist()
        graph = graph.subgraph_edges(short, delete_vertices=False)
    return sorted(int(v) for v in graph.articulation_points())


def save_graph(graph: ig.Graph, path: Path) -> Path:
    """Pickle the graph atomically, compactly (:mod:`.pickled`: edges and attributes as arrays)."""

    def _dump(p: Path) -> None:
        with open(p, "wb") as fh:
            dump_graph(graph, fh)

    return write_with(Path(path), _dump)


def _pickle_inside(path: Path, allowed_root: Path) -> Path:
    """The pickle's resolved path, if it lies inside ``allowed_root`` (the project's data
    folder): unpickling runs code, so a path that resolves (links followed) outside it is
    refused with ``PermissionError``."""
    root = Path(allowed_root).expanduser().resolve()
    target = Path(path).expanduser().resolve()
    if not target.is_relative_to(root):
        raise PermissionError(f"refusing to load a pickle outside {root}: {target}")
    if not target.is_file():
        raise FileNotFoundError(f"no graph file at {target}")
    return target


def _checked(graph: object, target: Path, kind: type = ig.Graph) -> Any:
    """``graph`` if it is a ``kind`` (what loading the pickle should give), else TypeError."""
    if not isinstance(graph, kind):
        raise TypeError(f"{target} does not hold an igraph.Graph (got {type(graph).__name__})")
    return graph


def load_graph(path: Path, allowed_root: Path) -> ig.Graph:
    """Unpickle a graph, but only from inside ``allowed_root`` (the project's data folder)."""
    target = _pickle_inside(path, allowed_root)
    with open(target, "rb") as fh:
        return _checked(pickle.load(fh), target)


def load_graph_lean(path: Path, allowed_root: Path) -> LeanGraph:
    """:func:`load_graph` as a :class:`~.lean.LeanGraph` (:func:`.pickled.load_lean`): arrays and
    attributes, no igraph object, which is what the path finder and the explorer read."""
    target = _pickle_inside(path, allowed_root)
    with open(target, "rb") as fh:
        return _checked(load_lean(fh), target, LeanGraph)
