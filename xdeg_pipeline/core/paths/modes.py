"""The path modes by name: each maps to its ``search(space, query) -> Chain`` function.

To add a mode: write a module with a ``search`` function of the :data:`~.search.Mode` shape
(honour ``query.ban_v`` / ``query.ban_e``; raise :class:`~.chain.PathError` when no chain
exists), then register it here. The order of :data:`MODES` is the order the CLI and errors show.
"""

from __future__ import annotations

from xdeg_pipeline.core.paths import shortest, smooth, steps
from xdeg_pipeline.core.paths.search import Mode

SEARCHES: dict[str, Mode] = {
    "shortest": shortest.search,
    "smooth": smooth.search,
    "steps": steps.search,
}
MODES = tuple(SEARCHES)  # ("shortest", "smooth", "steps")
