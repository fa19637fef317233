"""Chains between two images of the similarity graph.

Modes (``MODES``; one module each):

* ``shortest`` (:mod:`.shortest`): least sum of step distances (the original objective).
* ``smooth`` (default, :mod:`.smooth`, :mod:`.corridor` on huge graphs): minimise the largest
  step (down to the bottleneck from :mod:`.tree`, within a slack), then the summed step cost
  (:mod:`.costs`), which damps hubs by their estimated load (:mod:`.load`).
* ``steps`` (``steps = X``, :mod:`.steps`): exactly X intermediate images, the smallest
  possible largest step (exact hop-count dynamic programming plus a depth-first search for a
  simple chain).

``alternatives = K`` returns up to K distinct chains, each on a new route
(:mod:`.alternatives`); ``avoid`` removes images from the graph for the query. Results are
deterministic. :class:`PathFinder` (:mod:`.finder`) is the entry point; :mod:`.search` says
how a mode is written and :mod:`.modes` where it is registered.
"""

from xdeg_pipeline.core.paths.chain import Chain, PathError
from xdeg_pipeline.core.paths.finder import PathFinder
from xdeg_pipeline.core.paths.modes import MODES

__all__ = ["MODES", "Chain", "PathError", "PathFinder"]
