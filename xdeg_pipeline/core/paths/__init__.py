"""Chains between two images of the similarity graph.

Modes (``MODES``; one module each):

* ``shortest`` (:mod:`.shortest`): least sum of step distances (the original objective).
* ``smooth`` (default, :mod:`.smooth`, :mod:`.corridor` on huge graphs): minimise the largest
  step (down to the bottleneck from :mod:`.tree`, never below the natural step, within a
  slack), then the summed step cost (:mod:`.costs`: steps shorter than a few near-duplicate
  distances cost as one that long), which damps hubs by their estimated load (:mod:`.load`).
* ``steps`` (``steps = X``, :mod:`.steps`): exactly X intermediate images, the smallest
  possible largest step (exact hop-count dynamic programming plus a depth-first search for a
  simple chain), the cheapest (hub-damped) such chain within ``steps_slack`` of it.

No mode steps from an image to a near-duplicate of it unless the ends require it
(:mod:`~xdeg_pipeline.core.graph.near_duplicates`,
:mod:`.search`). ``alternatives = K`` returns up to
K distinct chains, each on a new route (:mod:`.alternatives`); ``avoid`` removes images from
the graph for the query; ``via`` makes the chain pass given images in order
(:mod:`.waypoints`). Results are deterministic. :class:`PathFinder` (:mod:`.finder`) is the
entry point; :mod:`.search` says how a mode is written and :mod:`.modes` where it is
registered.
"""

from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.finder import PathFinder
from xdeg_pipeline.core.paths.modes import MODES

__all__ = ["MODES", "Chain", "PathError", "PathFinder"]
