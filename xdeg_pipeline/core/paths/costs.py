"""What a step costs: the per-edge cost that ``smooth`` minimises below its largest-step cap.

The same cost orders equally good candidates in ``steps`` and drives the hub-load simulation
(:mod:`.load`). A new cost term belongs here, as a field of :class:`StepCost`; add it to
:meth:`StepCost.load_params` if the hub load depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.graph.near_duplicates import StepScale
from xdeg_pipeline.core.paths.arcs import Arcs

LOAD_VERSION = 3  # bump when the load estimate changes, so stored loads are recomputed
NO_SCALE = StepScale(0.0, 0.0)  # no natural step, no near-duplicates: the plain power cost


@dataclass(frozen=True)
class StepCost:
    """``((max(w, min_step * near_dup) / m) ** power + step_constant * (natural / m) ** power)
    * (1 + hub_penalty * load)`` per edge (``m``: the median edge weight; ``load``: the mean
    load of the edge's ends), plus :meth:`near_dup_penalty` on near-duplicate steps where a
    search applies it."""

    power: float
    hub_penalty: float
    step_constant: float = 0.0
    min_step: float = 0.0

    @classmethod
    def of(
        cls,
        power: float | None = None,
        hub_penalty: float | None = None,
        step_constant: float | None = None,
        min_step: float | None = None,
    ) -> StepCost:
        """The cost with these settings, the defaults of :mod:`params` where None."""
        return cls(
            params.SMOOTH_POWER if power is None else float(power),
            params.HUB_PENALTY if hub_penalty is None else float(hub_penalty),
            params.STEP_CONSTANT if step_constant is None else float(step_constant),
            params.MIN_STEP if min_step is None else float(min_step),
        )

    def load_params(self, near_dup: float = 0.0) -> dict:
        """The settings a stored hub load was estimated with (must match to be reused)."""
        return {"power": self.power, "hub_penalty": self.hub_penalty,
                "step_constant": self.step_constant, "min_step": self.min_step,
                "near_dup": float(near_dup), "version": LOAD_VERSION}

    @staticmethod
    def unit(arcs: Arcs) -> float:
        """``m``: the median positive edge weight (1 if there is none)."""
        w = arcs.w
        return float(np.median(w[w > 0])) if (w > 0).any() else 1.0

    def step_values(self, w: np.ndarray, scale: StepScale, unit: float) -> np.ndarray:
        """The hub-free cost of steps of length ``w``.

        ``(w / m) ** power``: power 1 is the sum of distances (short, jumpy chains); a larger
        power penalises big steps more (a soft minimax: smoother, more hops). A step shorter
        than ``min_step`` near-duplicate distances costs as much as one of that length: steps
        barely larger than a near-duplicate all show a viewer about as little, so a chain
        never wades through many of them where fewer reach as far (two such steps together
        cost twice one), while steps of ordinary length cost what they did.
        The constant ``step_constant * (natural / m) ** power`` is paid per step: with 1,
        splitting any step no longer than about the natural step never pays (for power 4,
        ``a**4 + b**4 + c >= (a + b)**4`` whenever ``a + b <= natural``), but it also favours
        fewer, longer steps everywhere.
        """
        w = np.asarray(w, dtype=np.float64)
        if scale.near_dup > 0 and self.min_step > 0:
            w = np.maximum(w, self.min_step * scale.near_dup)
        natural = scale.natural
        const = self.step_constant * (natural / unit) ** self.power if natural > 0 else 0.0
        return (w / unit) ** self.power + const

    def near_dup_penalty(self, scale: StepScale, unit: float) -> float:
        """Added to the cost of a near-duplicate step: ``params.NEAR_DUP_PENALTY`` natural steps'
        worth, so a search takes one only where no chain under its cap avoids it."""
        ref = float(self.step_values(np.array([scale.natural or unit]), scale, unit)[0])
        return params.NEAR_DUP_PENALTY * max(ref, 1e-12)

    def edge_costs(self, arcs: Arcs, load: np.ndarray, scale: StepScale = NO_SCALE
                   ) -> np.ndarray:
        """Per-edge cost (indexed like ``arcs.w``; per arc: ``[arcs.arc_e]``), without the
        near-duplicate penalty. Times ``1 + hub_penalty * (load_u + load_v) / 2``: an image on a
        share ``load`` of all chains costs more to pass through, so chains spread over equally
        good routes instead of funnelling through a few connector images (hubs)."""
        w = arcs.w
        if not len(w):
            return np.zeros(0)
        return self.pair_costs(w, load[arcs.eu], load[arcs.ev], scale, self.unit(arcs))

    def pair_costs(self, w: np.ndarray, load_u: np.ndarray, load_v: np.ndarray,
                   scale: StepScale, unit: float) -> np.ndarray:
        """The cost of steps of length ``w`` between images of loads ``load_u`` and ``load_v``
        (an edge's, or a step that is no longer one: a pinned chain's)."""
        cost = self.step_values(w, scale, unit)
        if self.hub_penalty > 0:
            cost = cost * (1.0 + self.hub_penalty * (load_u + load_v) / 2.0)
        return np.maximum(cost, 1e-12)  # scipy reads stored zeros as edges; keep > 0 anyway
