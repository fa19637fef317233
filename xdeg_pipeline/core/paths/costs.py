"""What a step costs: the per-edge cost that ``smooth`` minimises below its largest-step cap.

The same cost orders equally good candidates in ``steps`` and drives the hub-load simulation
(:mod:`.load`). A new cost term (e.g. a constant per step) belongs here, as a field of
:class:`StepCost`; add it to :meth:`StepCost.load_params` if the hub load depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdeg_pipeline.core import params
from xdeg_pipeline.core.paths.arcs import Arcs

LOAD_VERSION = 1  # bump when the load estimate changes, so stored loads are recomputed


@dataclass(frozen=True)
class StepCost:
    """``(w / median w) ** power * (1 + hub_penalty * (load_u + load_v) / 2)`` per edge."""

    power: float
    hub_penalty: float

    @classmethod
    def of(cls, power: float | None = None, hub_penalty: float | None = None) -> StepCost:
        """The cost with these settings, the defaults of :mod:`params` where None."""
        return cls(
            params.SMOOTH_POWER if power is None else float(power),
            params.HUB_PENALTY if hub_penalty is None else float(hub_penalty),
        )

    def load_params(self) -> dict:
        """The settings a stored hub load was estimated with (must match to be reused)."""
        return {"power": self.power, "hub_penalty": self.hub_penalty, "version": LOAD_VERSION}

    def edge_costs(self, arcs: Arcs, load: np.ndarray) -> np.ndarray:
        """Per-edge cost (indexed like ``arcs.w``; per arc: ``[arcs.arc_e]``).

        ``(w / median w) ** power``: power 1 is the sum of distances (short, jumpy chains);
        a larger power penalises big steps more (a soft minimax: smoother, more hops). Times
        ``1 + hub_penalty * (load_u + load_v) / 2``: an image on a share ``load`` of all chains
        costs more to pass through, so chains spread over equally good routes instead of
        funnelling through a few connector images (hubs).
        """
        w = arcs.w
        if not len(w):
            return np.zeros(0)
        scale = float(np.median(w[w > 0])) if (w > 0).any() else 1.0
        cost = (w / scale) ** self.power
        if self.hub_penalty > 0:
            cost = cost * (1.0 + self.hub_penalty * (load[arcs.eu] + load[arcs.ev]) / 2.0)
        return np.maximum(cost, 1e-12)  # scipy reads stored zeros as edges; keep > 0 anyway
