"""Chains inside a filter (core.query.Collection): every image of a returned chain satisfies
the filter, in every mode and alternative; ends outside it, unreadable filters and a filter that
disconnects the pair are clear errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from xdeg_pipeline.core.images.filters import FilterError
from xdeg_pipeline.core.paths.chain import PathError
from xdeg_pipeline.core.query import Collection, OutsideFilter, PathRequest
from xdeg_pipeline_tests.helpers.metadata_home import LONELY, year_of

FILTERS = (("date<1900",), ("collection=museum / paintings",),
           ("date>=1600", "creator!=paul klee"), ("medium~oil AND date<1950",))


@pytest.fixture(scope="module")
def collection(metadata_home: dict) -> Collection:
    return Collection(metadata_home["home"], metadata_home["images"])


def test_matching_follows_the_metadata(collection: Collection, metadata_home: dict) -> None:
    names = metadata_home["names"]
    assert collection.matching(["date<1900"]) == {
        n for i, n in enumerate(names) if year_of(i) < 1900}
    assert collection.matching("creator=" + LONELY) == set(metadata_home["lonely"])
    assert collection.matching("inventory~inv-0007") == {names[7]}  # a JSON metadata value
    assert collection.matching(()) == set(names)


@pytest.mark.parametrize("where", FILTERS)
def test_a_filtered_chain_never_leaves_its_filter(collection: Collection,
                                                  where: tuple[str, ...]) -> None:
    inside = sorted(collection.matching(where))
    outside = set(collection.names) - set(inside)
    assert inside and outside
    parsed = collection.filter(where)
    requests = [PathRequest(inside[0], inside[-1], where=where, alternatives=3),
                PathRequest(inside[1], inside[len(inside) // 2], mode="shortest", where=where),
                PathRequest(inside[2], inside[-2], mode="steps", steps=4, where=where),
                PathRequest(inside[3], inside[-3], via=(inside[5],), where=where)]
    for request in requests:
        chains = collection.find(request)
        assert chains
        for chain in chains:
            assert chain.path[0] == request.source and chain.path[-1] == request.target
            assert all(parsed.matches(collection.fields[n]) for n in chain.path), chain.path
            assert chain.as_dict()["where"] == list(where)
    # the same pair without the filter is free to pass images outside it
    free = [collection.find(PathRequest(a, b))[0].path
            for a, b in itertools.islice(itertools.combinations(inside, 2), 0, 200, 7)]
    assert any(set(p) & outside for p in free)


def test_filter_errors(collection: Collection, metadata_home: dict) -> None:
    inside = sorted(collection.matching("date<1900"))
    later = sorted(set(collection.names) - set(inside))[0]
    with pytest.raises(OutsideFilter) as out:
        collection.find(PathRequest(inside[0], later, where=("date<1900",)))
    assert out.value.parameter == "target" and out.value.name == later
    assert "outside the filter date<1900" in str(out.value)
    with pytest.raises(OutsideFilter) as via:
        collection.find(PathRequest(inside[0], inside[1], via=(later,), where=("date<1900",)))
    assert via.value.parameter == "via"
    with pytest.raises(FilterError, match="no image has the field 'dat'"):
        collection.find(PathRequest(inside[0], inside[1], where=("dat<1900",)))
    a, b = metadata_home["lonely"]  # both match, but no edge joins them
    with pytest.raises(PathError) as none:
        collection.find(PathRequest(a, b, where=(f"creator={LONELY}",)))
    message = str(none.value)
    assert message.startswith("no chain") and "inside the filter" in message
    assert "\n" not in message
    assert collection.find(PathRequest(a, b))[0].path  # without the filter there is one


def test_a_filter_is_part_of_the_chain_id(collection: Collection) -> None:
    a, b = sorted(collection.matching("date<1900"))[:2]
    plain = collection.find(PathRequest(a, b))[0]
    filtered = collection.find(PathRequest(a, b, where=("date<1900",)))[0]
    assert plain.chain_id != filtered.chain_id and plain.as_dict()["where"] == []


def test_a_pinned_chain_is_kept_while_it_holds(collection: Collection) -> None:
    a, b = collection.names[0], collection.names[-1]
    best, other = collection.find(PathRequest(a, b, alternatives=2))
    kept = collection.find(PathRequest(a, b, chain=tuple(other.path)))[0]
    assert kept.path == other.path and kept.pin["kept"] is True
    if kept.pin["better"] is not None:
        assert kept.pin["better"]["path"] == best.path
    assert kept.as_dict()["pin"] == kept.pin
    assert kept.chain_id != best.chain_id  # a pinned request is another request
    assert "pin" not in best.as_dict()
    gone = collection.find(PathRequest(a, b, chain=(a, "no_such_image.png", b)))[0]
    assert gone.path == best.path and gone.pin == {
        "kept": False, "reason": "an image of the pinned chain is no longer in the collection"}
    jump = collection.find(PathRequest(a, b, chain=(a, b)))[0]
    if len(best.path) > 2:
        assert not jump.pin["kept"] and "no longer an edge" in jump.pin["reason"]
        assert jump.path == best.path
    avoided = collection.find(PathRequest(a, b, chain=tuple(other.path),
                                          avoid=(other.path[1],)))[0]
    assert not avoided.pin["kept"] and other.path[1] not in avoided.path


def test_an_earlier_chain_is_answered_again_unless_truly_better(collection: Collection) -> None:
    """``earlier`` (the chain answered before): kept while it holds and today's chain is not
    truly better (what a pinned link would say), else today's chain with the reason."""
    names = collection.names
    outcomes = set()
    KEPT = {"kept": True, "reason": None}  # noqa: N806
    for a, b in zip(names[:12], names[::-1][:12], strict=True):
        request = PathRequest(a, b, alternatives=2)
        best, other = collection.find(request)
        again = collection.find(request, earlier=other.path)
        pinned = collection.find(PathRequest(a, b, alternatives=2, chain=tuple(other.path)))[0]
        assert again[0].chain_id == best.chain_id  # the same request, the same id
        if pinned.pin["better"] is None:
            assert again[0].path == other.path and again[0].earlier == KEPT
        else:
            assert again[0].path == best.path
            assert again[0].earlier == {"kept": False, "reason": "a truly better chain was found"}
        outcomes.add(again[0].earlier["kept"])
        assert again[0].as_dict()["earlier"] == again[0].earlier
        assert collection.find(request, earlier=best.path)[0].earlier == KEPT
    assert True in outcomes
    a, b = names[0], names[-1]
    gone = collection.find(PathRequest(a, b), earlier=(a, "no_such_image.png", b))[0]
    assert gone.earlier == {"kept": False, "reason": "an image of the earlier chain is no "
                                                       "longer in the collection"}
    assert "earlier" not in collection.find(PathRequest(a, b))[0].as_dict()


def test_a_step_no_longer_an_edge_is_measured_where_both_images_remain(tmp_path: Path) -> None:
    """A kept chain whose step new images pushed out of the neighbour lists is measured in the
    graph's space (pca_features): it still holds, as long as it was; without those vectors, or
    with vectors of another space, the step counts as gone."""
    import numpy as np

    from xdeg_pipeline.core.graph.build import load_graph, save_graph
    from xdeg_pipeline.core.storage.feature_table import write_feature_table
    from xdeg_pipeline.core.storage.layout import Layout
    from xdeg_pipeline_tests.helpers.synthetic_home import build_synthetic_home

    home = build_synthetic_home(tmp_path, n=120, seed=5, vectors=True)
    layout, X = Layout(home["home"]), home["X"]
    names = home["names"]
    a, b = names[0], names[-1]
    before = Collection(home["home"], home["images"])
    best = before.find(PathRequest(a, b))[0]
    u, w = (before.vertex_of_name[n] for n in best.path[:2])
    graph = load_graph(layout.similarity_graph, allowed_root=layout.home)
    graph.delete_edges(graph.es.select(_between=([u], [w])))  # as if new images took its place
    save_graph(graph, layout.similarity_graph)
    after = Collection(home["home"], home["images"])
    assert after.finder.arcs.arc_of(np.array([u]), np.array([w]))[0] < 0  # no longer an edge
    again = after.find(PathRequest(a, b), earlier=best.path)[0]
    assert again.path == best.path and again.earlier == {"kept": True, "reason": None}
    assert np.isclose(again.steps[0], np.linalg.norm(X[u] - X[w]), rtol=1e-5)
    jump = after.find(PathRequest(a, b, chain=(a, b)))[0]  # far apart: kept, a better one shown
    assert jump.path == [a, b] and jump.pin["kept"] is True
    assert jump.pin["better"]["path"] == after.find(PathRequest(a, b))[0].path

    write_feature_table([str(h) for h in after.graph.vs["content_hash"]], X * 2,
                        layout.pca_features)  # vectors of another space (a build moved on)
    other = Collection(home["home"], home["images"]).find(PathRequest(a, b), earlier=best.path)
    assert other[0].earlier == {"kept": False, "reason": "step 1 of the earlier chain is no "
                                                          "longer an edge of the graph"}
    layout.pca_features.unlink()
    gone = Collection(home["home"], home["images"]).find(PathRequest(a, b), earlier=best.path)
    assert gone[0].earlier["reason"].startswith("step 1 of the earlier chain is no longer")
