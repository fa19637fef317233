"""Pairs with two chains as good as each other: what the tests of earlier and pinned chains
answer with (the second chain is kept while it holds, since nothing truly better exists)."""

from __future__ import annotations

from xdeg_pipeline.core.query import Collection, PathRequest


def unbeaten_alternatives(collection: Collection, tries: int = 12
                          ) -> list[tuple[str, str, list[str], list[str]]]:
    """``(source, target, best chain, second chain)`` for the pairs of the first and last
    ``tries`` names whose second chain no chain of today truly betters."""
    names, found = collection.names, []
    for a, b in zip(names[:tries], names[::-1][:tries], strict=True):
        best, other = collection.find(PathRequest(a, b, alternatives=2))
        pin = collection.find(PathRequest(a, b, alternatives=2, chain=tuple(other.path)))[0].pin
        if pin["better"] is None:
            found.append((a, b, best.path, other.path))
    return found
