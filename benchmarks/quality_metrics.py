"""What a viewer sees in a chain, measured in a judging space with exact bounds.

A :class:`JudgingSpace` holds the dense distance matrix of a collection in one space, the
space's *near-duplicate distance* (measured on edited copies, :mod:`benchmarks.same_picture`)
and its *natural step* (the median distance from an image to its nearest neighbour), plus the
exact bounds over the complete graph of all images:

* bottleneck: the least possible largest step between s and t = the largest edge on their
  path in the minimum spanning tree of the complete graph (dense Prim, O(N^2), once);
* h-step bound: the least largest step over walks of at most h edges (min-max dynamic
  programming over the dense matrix; rows that cannot improve the answer are skipped, which
  keeps it exact). Walks include all simple chains, so this lower-bounds chains of h steps.

:func:`chain_figures` turns chains into the figures of the benchmark's table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SERIES_SHARE = 0.5  # a series step is also under this share of its chain's largest step


def chord_matrix(F: np.ndarray) -> np.ndarray:
    """Dense Euclidean distances between the rows of F (float32, N x N)."""
    sq = np.einsum("ij,ij->i", F, F).astype(np.float32)
    G = F @ F.T
    G *= -2.0
    G += sq[:, None]
    G += sq[None, :]
    np.maximum(G, 0.0, out=G)
    np.sqrt(G, out=G)
    np.fill_diagonal(G, 0.0)
    return G


def mst_parent(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense Prim from vertex 0: parent and edge weight to parent of each vertex."""
    n = len(D)
    key = D[0].astype(np.float64).copy()
    parent = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, bool)
    done[0] = True
    key[0] = np.inf
    for _ in range(n - 1):
        u = int(np.argmin(np.where(done, np.inf, key)))
        done[u] = True
        better = (D[u] < key) & ~done
        key[better] = D[u][better]
        parent[better] = u
    up_w = D[np.arange(n), parent].astype(np.float64)
    up_w[0] = 0.0
    return parent, up_w


def tree_depth(parent: np.ndarray) -> np.ndarray:
    depth = np.full(len(parent), -1)
    depth[0] = 0
    for v in range(len(parent)):
        chain = []
        while depth[v] < 0:
            chain.append(v)
            v = parent[v]
        for c in reversed(chain):
            depth[c] = depth[parent[c]] + 1
    return depth


@dataclass
class JudgingSpace:
    """Distances of one space, its near-duplicate distance and natural step, exact bounds."""

    name: str
    D: np.ndarray
    near_dup: float
    natural: float
    calibration: dict = field(default_factory=dict)
    series_step: float = 0.0  # a step shorter than this may join two members of a series
    _tree: tuple | None = field(default=None, repr=False)
    _hop_bounds: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, name: str, X: np.ndarray, near_dup: float, calibration: dict) -> JudgingSpace:
        D = chord_matrix(np.asarray(X, dtype=np.float32))
        nn = np.where(np.eye(len(D), dtype=bool), np.inf, D).min(axis=1)
        return cls(name, D, near_dup, float(np.median(nn)), calibration)

    def bottleneck(self, s: int, t: int) -> float:
        if self._tree is None:
            parent, up_w = mst_parent(self.D)
            self._tree = (parent, up_w, tree_depth(parent))
        parent, up_w, depth = self._tree
        best = 0.0
        while s != t:
            if depth[s] < depth[t]:
                s, t = t, s
            best = max(best, up_w[s])
            s = parent[s]
        return float(best)

    def hop_bound(self, s: int, t: int, hops: int) -> float:
        """Least largest step over walks of at most ``hops`` edges from s to t (exact)."""
        key = (s, t, hops)
        if key not in self._hop_bounds:
            self._hop_bounds[key] = self._hop_bound(s, t, hops)
        return self._hop_bounds[key]

    def _hop_bound(self, s: int, t: int, hops: int) -> float:
        D = self.D
        upper = float(D[s, t])
        B = D[s].astype(np.float32).copy()
        for _ in range(hops - 1):
            rows = np.flatnonzero(B < min(upper, B[t]))
            if len(rows) == 0:
                break
            best = np.full(len(B), np.inf, dtype=np.float32)
            for lo in range(0, len(rows), 256):
                r = rows[lo : lo + 256]
                best = np.minimum(best, np.maximum(D[r], B[r, None]).min(axis=0))
            B = np.minimum(B, best)
        return float(min(B[t], upper))

    def fewest_hops(self, s: int, t: int, largest: float) -> int:
        """Fewest steps of any chain from s to t whose steps are all <= ``largest`` (BFS over the
        complete graph of the space; at least 1)."""
        if s == t:
            return 0
        seen = np.zeros(len(self.D), bool)
        seen[s] = True
        frontier, hops = np.array([s]), 0
        while len(frontier):
            hops += 1
            near = (self.D[frontier] <= largest * (1 + 1e-6)).any(axis=0) & ~seen
            if near[t]:
                return hops
            seen |= near
            frontier = np.flatnonzero(near)
        return hops

    def near_identical(self, steps: np.ndarray) -> np.ndarray:
        """Per step of one chain: True where it shows about the same picture again: shorter
        than the near-duplicate distance, or, in a chain whose largest step is more than twice
        as long, shorter than ``series_step`` (consecutive members of a design series)."""
        if not len(steps):
            return np.zeros(0, bool)
        series = (steps < self.series_step) & (steps < SERIES_SHARE * steps.max())
        return (steps < self.near_dup) | series

    def summary(self) -> dict:
        return {"near_dup": round(self.near_dup, 4), "natural": round(self.natural, 4),
                "series_step": round(self.series_step, 4),
                "near_dup_over_natural": round(self.near_dup / self.natural, 3),
                "edit_distances": self.calibration}


# ----------------------------------------------------------------------------- figures
def pct(values, q) -> float | None:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return round(float(np.percentile(v, q)), 4) if v else None


def hub_share(interiors: list[list[int]], n: int) -> float:
    """Share of all chain interiors taken by the 1% most-used images."""
    flat = np.concatenate([np.asarray(c, dtype=np.int64) for c in interiors] + [np.zeros(0, int)])
    counts = np.bincount(flat, minlength=n)
    total = counts.sum()
    if total == 0:
        return 0.0
    top = max(1, math.ceil(0.01 * n))
    return float(np.sort(counts)[::-1][:top].sum() / total)


def uniform_hub_share(total: int, n: int, seed: int) -> float:
    """The same statistic if interiors were drawn uniformly at random."""
    if total == 0:
        return 0.0
    counts = np.random.default_rng(seed).multinomial(total, np.full(n, 1.0 / n))
    top = max(1, math.ceil(0.01 * n))
    return float(np.sort(counts)[::-1][:top].sum() / total)


def space_figures(space: JudgingSpace, chains: list[list[int]], bounds: list[float]) -> dict:
    """Per-space figures of chains (``bounds[i]`` = the least largest step for chain i)."""
    nd_steps = ni_steps = all_steps = 0
    cv, big, mean_r, big_r, big_nat, even, crawl = [], [], [], [], [], [], []
    for v, b in zip(chains, bounds, strict=True):
        if len(v) < 2:
            continue
        st = space.D[np.asarray(v[:-1]), np.asarray(v[1:])].astype(np.float64)
        nd_steps += int((st < space.near_dup).sum())
        ni_steps += int(space.near_identical(st).sum())
        all_steps += len(st)
        if st.max() > 0:
            even.append(float(st.min() / st.max()))
        crawl.append(len(st) / max(space.fewest_hops(v[0], v[-1], float(st.max())), 1))
        if len(st) > 1 and st.mean() > 0:
            cv.append(float(st.std() / st.mean()))
        big.append(float(st.max()))
        ref = b if b > 0 else float(st.max()) or 1.0
        big_r.append(float(st.max()) / ref)
        mean_r.append(float(st.mean()) / ref)
        big_nat.append(float(st.max()) / max(b, space.natural))
    return {
        "near_dup_steps": round(nd_steps / max(all_steps, 1), 4),
        "near_identical_steps": round(ni_steps / max(all_steps, 1), 4),
        "shortest_over_longest_p10": pct(even, 10), "shortest_over_longest_p50": pct(even, 50),
        "crawl_p50": pct(crawl, 50), "crawl_p90": pct(crawl, 90),
        "crawl_max": round(max(crawl), 3) if crawl else None,
        "step_cv_p50": pct(cv, 50), "step_cv_p90": pct(cv, 90),
        "largest_p50": pct(big, 50),
        "largest_over_bound_p50": pct(big_r, 50), "largest_over_bound_p90": pct(big_r, 90),
        "mean_over_bound_p50": pct(mean_r, 50), "mean_over_bound_p90": pct(mean_r, 90),
        "largest_over_natural_bound_p50": pct(big_nat, 50),
        "largest_over_natural_bound_p90": pct(big_nat, 90),
    }


def chain_figures(chains: list[list[int] | None], times: list[float], topics: list[str],
                  n: int, seed: int) -> dict:
    """Space-free figures: reach, hops, hub share, same-topic share, query time."""
    found = [c for c in chains if c is not None]
    hops = [len(c) - 1 for c in found]
    same = total = 0
    extra = []  # topic changes beyond the one a chain between two topics must make
    for c in found:
        changes = 0
        for a, b in zip(c[:-1], c[1:], strict=True):
            same += topics[a] == topics[b]
            changes += topics[a] != topics[b]
            total += 1
        extra.append(changes - (topics[c[0]] != topics[c[-1]]))
    interiors = [c[1:-1] for c in found]
    return {
        "reachable": round(len(found) / max(len(chains), 1), 4),
        "hops_p50": pct(hops, 50), "hops_p90": pct(hops, 90),
        "hops_max": max(hops) if hops else None,
        "hub_share": round(hub_share(interiors, n), 4),
        "hub_share_uniform": round(uniform_hub_share(sum(map(len, interiors)), n, seed), 4),
        "same_topic": round(same / max(total, 1), 4),
        "extra_topic_changes": round(float(np.mean(extra)), 3) if extra else None,
        "chains_leaving_topic": round(float(np.mean(np.array(extra) > 0)), 3) if extra else None,
        "query_ms_p50": round(1000 * float(np.median(times)), 2) if times else None,
        "query_ms_p90": round(1000 * float(np.percentile(times, 90)), 2) if times else None,
    }


COLUMNS = [  # (header, figure key, where: "chain" or "space")
    ("hops p50/p90/max", ("hops_p50", "hops_p90", "hops_max"), "chain"),
    ("near-dup steps", ("near_dup_steps",), "space"),
    ("near-identical", ("near_identical_steps",), "space"),
    ("recoloured", ("recoloured_steps",), "chain"),
    ("short/long p10/p50", ("shortest_over_longest_p10", "shortest_over_longest_p50"), "space"),
    ("crawl p50/p90/max", ("crawl_p50", "crawl_p90", "crawl_max"), "space"),
    ("step CV p50", ("step_cv_p50",), "space"),
    ("largest/bound p50/p90", ("largest_over_bound_p50", "largest_over_bound_p90"), "space"),
    ("mean/bound p50/p90", ("mean_over_bound_p50", "mean_over_bound_p90"), "space"),
    ("largest/max(bound,natural) p50/p90",
     ("largest_over_natural_bound_p50", "largest_over_natural_bound_p90"), "space"),
    ("hub share", ("hub_share",), "chain"),
    ("same topic", ("same_topic",), "chain"),
    ("extra topic changes / chains with any", ("extra_topic_changes", "chains_leaving_topic"),
     "chain"),
    ("query ms p50", ("query_ms_p50",), "chain"),
]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v < 1 and v != 0:
        return f"{v:.3f}".rstrip("0")
    return f"{v:g}" if isinstance(v, float) else str(v)


def markdown_table(modes: dict[str, dict], spaces: list[str]) -> str:
    """One row per mode and judging space; chain-level figures on each mode's first row."""
    head = ["mode", "space"] + [c[0] for c in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mode, fig in modes.items():
        for k, sp in enumerate(spaces):
            cells = [mode if k == 0 else "", sp]
            for _, keys, where in COLUMNS:
                src = fig if where == "chain" else fig["spaces"][sp]
                cells.append(" / ".join(_fmt(src.get(key)) for key in keys)
                             if where == "space" or k == 0 else "")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
