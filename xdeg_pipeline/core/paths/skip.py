"""Skip a series step: drop an image of a chain whose two neighbours are near enough to meet.

A chain that starts or ends in a design series (one picture varied step by step) first walks
to the member that has an edge out of it, because the kNN graph holds no edge from the others
to the images outside: ``a07 -> a04 (0.23) -> dragonfly (0.86) -> ...``. The first step shows
the same picture again. Where the two images around such a short step are no further apart
than the chain's largest step (measured in the graph's space, between the near-duplicate
distance and that step), the image between them is dropped (issue 21): ``a07 -> dragonfly``.
The chain's largest step does not grow, and it has one step fewer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

PairLengths = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (u, v) -> their distances


def skip_short_steps(vertices: Sequence[int], lengths: Sequence[float], measure: PairLengths,
                     share: float, near_dup: float = 0.0) -> tuple[list[int], list[float]]:
    """The chain with its short steps skipped, and its step lengths.

    An interior image goes when one of its two steps is shorter than ``share`` x the chain's
    largest step and its neighbours are within ``near_dup``..largest of each other (``measure``
    gives their distance). The skip that lengthens the chain's step least goes first, then the
    next, until none is left; the ends never go, and one image between them stays (a single
    step that is no edge could not be told apart from the chain when an alternative is asked
    for)."""
    v, w = [int(x) for x in vertices], [float(x) for x in lengths]
    if share <= 0 or len(v) < 3:
        return v, w
    largest = max(w)
    while len(v) > 3:
        inner, wa = np.arange(1, len(v) - 1), np.asarray(w)
        short = np.minimum(wa[:-1], wa[1:]) < share * largest
        if not short.any():
            break
        at = inner[short]
        d = np.asarray(measure(np.array(v)[at - 1], np.array(v)[at + 1]), dtype=np.float64)
        ok = (d >= near_dup) & (d <= largest)
        if not ok.any():
            break
        k = int(np.flatnonzero(ok)[np.argmin(d[ok])])
        i = int(at[k])
        del v[i]
        w[i - 1 : i + 1] = [float(d[k])]
    return v, w
