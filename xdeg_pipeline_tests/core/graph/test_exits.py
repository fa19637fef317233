"""Distinct exits: extra edges out of dense groups whose kNN lists hold only each other."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.build import build_graph, long_range_edges
from xdeg_pipeline.core.graph.exits import (
    ExitSettings,
    distinct_counts,
    exit_edges,
    group_net,
    item_of,
)
from xdeg_pipeline.core.graph.knn import knn_edges
from xdeg_pipeline.core.graph.near_duplicates import (
    find_near_duplicates,
    near_duplicate_groups,
    nearest_distances,
    pair_median,
    step_scale,
)
from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline_tests.helpers.graphs import points_with_series

SPREAD = 200  # rows 0..199 of points_with_series are scattered, the rest is the series


def _series_exits(settings: ExitSettings | None = None, seed: int = 0):
    X = points_with_series(seed=seed)
    edges = knn_edges(X, 8)
    src = edges["source"].to_numpy(np.int64)
    dst = edges["target"].to_numpy(np.int64)
    w = np.linalg.norm(X[src] - X[dst], axis=1).astype(np.float64)
    near_dup = params.NEAR_DUP_FRACTION * pair_median(X, "l2")
    natural = step_scale(nearest_distances(len(X), src, dst, w), near_dup).natural
    return X, (src, dst, w), near_dup, natural, exit_edges(X, src, dst, w, "l2", near_dup,
                                                           natural, settings)


def test_distinct_counts_count_each_other_group_once_and_not_the_own():
    labels = np.array([0, 0, 0, 1, 1, -1, -1])
    src = np.array([0, 0, 0, 0, 0, 5, 5, 5])
    dst = np.array([1, 2, 3, 4, 5, 6, 3, 0])
    counts = distinct_counts(7, src, dst, labels)
    # 0 lists its own group (1, 2), group 1 twice (3, 4) and image 5: two distinct pictures
    assert counts.tolist() == [2, 0, 0, 0, 0, 3, 0]
    none = np.zeros(0, int)
    assert distinct_counts(3, none, none, -np.ones(3, int)).tolist() == [0] * 3


def test_group_net_covers_every_member_within_the_radius():
    X = points_with_series(seed=2)
    labels = np.full(len(X), -1)
    labels[SPREAD:] = 0
    net = group_net(X, labels, "l2", radius=0.3)
    assert set(range(SPREAD)) <= set(net.tolist())  # ungrouped images stand for themselves
    members = net[net >= SPREAD]
    assert 1 < len(members) < len(X) - SPREAD
    D = np.linalg.norm(X[SPREAD:, None] - X[None, members], axis=2)
    assert D.min(axis=1).max() <= 0.3
    items = item_of(net, labels, len(X))
    assert (np.diff(items) >= 0).all()  # sorted by item


def test_series_gets_exits_within_the_limits():
    st = ExitSettings.of(in_cap=6)
    X, (src, dst, w), near_dup, natural, ex = _series_exits(st)
    assert ex.info["exits"] == len(ex.a) > 0 and ex.info["exit_search"] == "exact"
    assert ex.info["exit_rows"] >= 0.9 * (len(X) - SPREAD)  # series members list each other
    np.testing.assert_allclose(ex.w, np.linalg.norm(X[ex.a] - X[ex.b], axis=1), rtol=1e-5)
    assert ex.w.min() >= near_dup and ex.w.max() <= st.max_step * natural
    assert (np.bincount(ex.b, minlength=len(X)) <= st.in_cap).all()
    keys = set((np.minimum(ex.a, ex.b) * len(X) + np.maximum(ex.a, ex.b)).tolist())
    assert len(keys) == len(ex.a)  # no pair twice ...
    knn = set((np.minimum(src, dst) * len(X) + np.maximum(src, dst)).tolist())
    assert not keys & knn  # ... and no kNN edge again
    # sources: images whose kNN list holds fewer than 8 (k) distinct pictures, mostly the series
    labels = near_duplicate_groups(len(X), src, dst, w, ex.info["dense_group_distance"])
    lacking = distinct_counts(len(X), src, dst, labels) < 8
    assert lacking[ex.a].all() and lacking[SPREAD:].mean() > 0.9 and lacking[:SPREAD].mean() < 0.2
    assert (ex.b < SPREAD).mean() > 0.9  # its exits lead out of it
    # the series now reaches many more outside images than its kNN lists did
    outside = {int(v) for a, b in zip(src, dst, strict=True) for v in (a, b)
               if (a >= SPREAD) != (b >= SPREAD) and v < SPREAD}
    assert len(outside | set(ex.b[ex.b < SPREAD].tolist())) >= 3 * len(outside)
    none = exit_edges(X, src, dst, w, "l2", near_dup, natural, ExitSettings.of(want=0))
    assert len(none.a) == 0 and none.info["exits"] == 0


def test_hnsw_search_keeps_the_limits(monkeypatch: pytest.MonkeyPatch):
    exact = _series_exits()[-1]
    monkeypatch.setattr(params, "EXIT_EXACT_BUDGET", 0)
    X, _, near_dup, natural, ex = _series_exits()
    assert ex.info["exit_search"] == "hnsw"
    assert ex.w.min() >= near_dup and ex.w.max() <= params.EXIT_MAX_STEP * natural
    same = set(zip(exact.a.tolist(), exact.b.tolist(), strict=True))
    got = set(zip(ex.a.tolist(), ex.b.tolist(), strict=True))
    assert len(same & got) >= 0.8 * len(same)


def test_partitioned_search_runs_as_runner_tasks_and_keeps_the_limits(
        monkeypatch: pytest.MonkeyPatch):
    """Above the partition threshold the net is searched in k-means partitions, each a task
    of the runner given (the Dask cluster's in a stage run), with the same exits nearly."""
    exact = _series_exits()[-1]
    monkeypatch.setattr(params, "EXIT_EXACT_BUDGET", 0)
    X, (src, dst, w), near_dup, natural, _ = _series_exits()
    tasks: list[int] = []

    def runner(fn, task_args):
        for i, args in enumerate(task_args):
            tasks.append(len(args[0]))  # the partition's indexed vectors
            yield i, fn(*args)

    ex = exit_edges(X, src, dst, w, "l2", near_dup, natural, partition_above=len(X) - 1,
                    runner=runner)
    assert ex.info["exit_search"] == "partitioned"
    assert len(tasks) == 2 and 0 < max(tasks) < sum(tasks)  # each task holds a part of the net
    assert ex.w.min() >= near_dup and ex.w.max() <= params.EXIT_MAX_STEP * natural
    same = set(zip(exact.a.tolist(), exact.b.tolist(), strict=True))
    got = set(zip(ex.a.tolist(), ex.b.tolist(), strict=True))
    assert len(same & got) >= 0.8 * len(same)
    below = exit_edges(X, src, dst, w, "l2", near_dup, natural, partition_above=len(X))
    assert below.info["exit_search"] == "hnsw"  # at or below the threshold: one index


def test_build_graph_marks_exit_edges_and_keeps_near_duplicates():
    X = points_with_series(seed=1)
    edges = knn_edges(X, 8)
    g = build_graph(edges, X)
    bare = build_graph(edges, X, exits=0)
    flags = np.array(g.es["exit"])
    assert g["params"]["exits"] == int(flags.sum()) > 0
    assert bare["params"]["exits"] == 0 and not any(bare.es["exit"])
    assert bare["params"]["exit_settings"]["want"] == 0
    assert g["params"]["exit_settings"] == asdict(ExitSettings())
    knn = ~np.array(g.es["long"]) & ~np.array(g.es["bridge"])
    bare_knn = ~np.array(bare.es["long"]) & ~np.array(bare.es["bridge"])
    assert int(knn.sum()) == int(bare_knn.sum()) + int(flags.sum())
    assert not any(np.array(g.es["long"])[flags]) and not any(np.array(g.es["bridge"])[flags])
    # exits are never near-duplicate steps: the groups and the scale path search reads stay
    with_exits, without = find_near_duplicates(g), find_near_duplicates(bare)
    assert with_exits.labels.tolist() == without.labels.tolist()
    assert with_exits.scale == without.scale


def test_chains_out_of_a_series_spread_over_more_exits():
    X = points_with_series(seed=0)
    edges = knn_edges(X, 8)
    rng = np.random.default_rng(3)
    pairs = list(zip(rng.integers(SPREAD, len(X), 150).tolist(),
                     rng.integers(0, SPREAD, 150).tolist(), strict=True))

    def first_outside(graph) -> list[int]:
        finder = PathFinder(graph)
        out = []
        for s, t in pairs:
            v = finder.find(s, t)[0].vertices
            out.append(next(x for x in v if x < SPREAD))
        return out

    before = first_outside(build_graph(edges, X, exits=0))
    after = first_outside(build_graph(edges, X))

    def busiest(firsts: list[int]) -> float:  # share of chains through the busiest exit
        return np.bincount(firsts).max() / len(firsts)

    assert len(set(after)) > len(set(before))
    assert busiest(after) < busiest(before)


def test_landmarks_are_spread_over_dense_groups():
    X = points_with_series(seed=0)
    edges = knn_edges(X, 8)

    def series_landmarks(graph) -> int:  # landmarks join each other: many long edges each
        el = np.array(graph.get_edgelist())[np.array(graph.es["long"])]
        degree = np.bincount(el.ravel(), minlength=len(X))
        return int((degree[SPREAD:] >= 10).sum())

    random_marks = series_landmarks(build_graph(edges, X, landmarks=30, landmarks_spread=False))
    spread = build_graph(edges, X, landmarks=30)
    assert random_marks >= 5  # a random sample puts about 30 x 120 / 320 in the series ...
    assert series_landmarks(spread) <= spread["params"]["dense_groups"]  # ... one per group
    a, b = long_range_edges(X, "l2", 10, eligible=np.arange(50))
    assert set(b[len(X):].tolist()) | set(a[len(X):].tolist()) <= set(range(50))


def _nearest_distinct(item: np.ndarray, d: np.ndarray, L: int) -> list[list[tuple[int, float]]]:
    """Per row, plainly: candidates by distance then item, each item's first, the first L."""
    out = []
    for row_item, row_d in zip(item.tolist(), d.tolist(), strict=True):
        seen: dict[int, float] = {}
        for dist, it in sorted(zip(row_d, row_item, strict=True)):
            if np.isfinite(dist) and it not in seen:
                seen[it] = dist
        out.append(list(seen.items())[:L])
    return out


def test_nearest_distinct_items_per_row_are_the_plain_reading():
    """The indexed search's candidates, sorted within each row (ties in distance included)."""
    from xdeg_pipeline.core.graph.exits import _first_per_item

    rng = np.random.default_rng(3)
    for L in (1, 3, 7):
        item = rng.integers(0, 12, size=(40, 25))
        d = np.round(rng.random((40, 25)), 1)  # many ties
        d[rng.random(d.shape) < 0.3] = np.inf  # no candidate there
        got_i, got_d = _first_per_item(item, d, L)
        for row, want in enumerate(_nearest_distinct(item, d, L)):
            k = len(want)
            assert got_i[row, :k].tolist() == [it for it, _ in want]
            assert got_d[row, :k].tolist() == [dist for _, dist in want]
            assert (got_i[row, k:] == -1).all() and np.isinf(got_d[row, k:]).all()


def test_exits_are_assigned_nearest_first_within_both_limits():
    """The greedy assignment against a plain loop over the candidates nearest first."""
    from xdeg_pipeline.core.graph.exits import _assign

    rng = np.random.default_rng(4)
    n = 60
    a, b = rng.integers(0, n, 2000), rng.integers(0, n, 2000)
    a, b = a[a != b], b[a != b]
    w = np.round(rng.random(len(a)), 2)
    key = np.minimum(a, b) * n + np.maximum(a, b)
    existing = np.unique(key[:30])
    for want, cap in ((1, 1), (3, 2), (6, 10)):
        used, got, taken = [0] * n, [0] * n, set()
        keep = np.zeros(len(a), bool)
        for i in sorted(range(len(a)), key=lambda i: (w[i], a[i], b[i], i)):
            s, t, k = int(a[i]), int(b[i]), int(key[i])
            if used[s] >= want:
                continue
            if k in set(existing.tolist()) or k in taken:
                used[s] += 1
            elif got[t] < cap:
                keep[i], used[s], got[t] = True, used[s] + 1, got[t] + 1
                taken.add(k)
        assert np.array_equal(_assign(n, a, b, w, existing, want, cap), keep)
        assert keep.any() and not keep.all()
