"""No mode steps between two colourings of one drawing where a chain under its cap avoids it."""

from __future__ import annotations

import pytest

from xdeg_pipeline.core.paths import PathFinder
from xdeg_pipeline.core.paths.arcs import Arcs
from xdeg_pipeline.core.paths.pinned import check_pinned
from xdeg_pipeline_tests.helpers.graphs import weighted_graph


def _graph(recoloured: list[bool]):
    # 0 -> 3 through 1 - 2 (steps 0.5, 0.45, 0.5) or through 4 - 5 (0.5, 0.5, 0.5)
    g = weighted_graph(6, [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 3)],
                       [0.5, 0.45, 0.5, 0.5, 0.5, 0.5])
    g.es["recolour"] = recoloured
    return g


@pytest.mark.parametrize("mode", ["smooth", "steps", "shortest"])
def test_a_recoloured_step_is_avoided_where_another_chain_does_as_well(mode):
    steps = 2 if mode == "steps" else None
    plain = PathFinder(_graph([False] * 6), near_dup=0.1, hub_penalty=0.0)
    assert plain.find(0, 3, mode=mode, steps=steps)[0].vertices == [0, 1, 2, 3]
    marked = PathFinder(_graph([False, True, False, False, False, False]), near_dup=0.1,
                        hub_penalty=0.0)
    assert marked.find(0, 3, mode=mode, steps=steps)[0].vertices == [0, 4, 5, 3]


@pytest.mark.parametrize("mode", ["smooth", "steps"])
def test_a_recoloured_step_where_the_target_requires_it(mode):
    steps = 2 if mode == "steps" else None
    g = _graph([False, True, False, False, False, False])
    g.delete_edges([(4, 5)])  # the other way is gone
    pf = PathFinder(g, near_dup=0.1, hub_penalty=0.0)
    assert pf.find(0, 3, mode=mode, steps=steps)[0].vertices == [0, 1, 2, 3]


def test_the_arcs_read_the_marks_of_either_form():
    g = _graph([False, True, False, False, False, False])
    arcs = Arcs(g)
    avoided = arcs.avoided(0.1)
    assert avoided.sum() == 2  # both directions of 1 - 2
    assert set(arcs.arc_row[avoided]) == {1, 2}
    same = Arcs.from_arrays(6, arcs.eu, arcs.ev, arcs.w, None, arcs.recolour_e)
    assert (same.avoided(0.1) == avoided).all()
    assert not Arcs(_graph([False] * 6)).avoided(0.1).any()


def test_between_two_colourings_of_one_drawing_the_direct_step_stays():
    """A chain asked between two images of one recolour group may step inside it (as between
    two near-duplicates of one group), instead of leaving it and coming back."""
    g = weighted_graph(4, [(0, 1), (0, 2), (2, 1), (1, 3)], [0.3, 0.3, 0.3, 0.5])
    g.es["recolour"] = [True, False, False, False]
    pf = PathFinder(g, near_dup=0.1, hub_penalty=0.0)
    assert pf.space.recolour_groups.tolist() == [0, 0, -1, -1]
    assert pf.space.exempt(0, 1) and not pf.space.exempt(0, 3)
    assert pf.find(0, 1)[0].vertices == [0, 1]
    assert pf.find(2, 3)[0].vertices == [2, 1, 3]  # not between the two: no recoloured step


def test_a_shared_chain_through_a_recoloured_step_is_not_kept():
    """A chain shared before the colourings were marked (or before an image joined them) is
    answered afresh when one of its steps is now recoloured, and says why."""
    plain = PathFinder(_graph([False] * 6), near_dup=0.1, hub_penalty=0.0)
    marked = PathFinder(_graph([False, True, False, False, False, False]), near_dup=0.1,
                        hub_penalty=0.0)
    assert check_pinned(plain.space, [0, 1, 2, 3], 0, 3, "smooth")[0] is not None
    kept, why = check_pinned(marked.space, [0, 1, 2, 3], 0, 3, "smooth")
    assert kept is None and why == "the pinned chain has a near-duplicate or recoloured step"
