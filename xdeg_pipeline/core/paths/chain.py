"""What a path query returns (:class:`Chain`) and how it fails (:class:`PathError`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Chain:
    """A chain of vertices; ``steps[i]`` is the distance from ``vertices[i]`` to the next."""

    vertices: list[int]
    steps: list[float]
    largest_step: float
    total: float
    mode: str = "smooth"
    bound: float = 0.0  # least possible largest step under the mode's constraint (graph)
    optimal: bool = True  # largest_step proven to be the least possible (steps mode)
    via: list[int] = field(default_factory=list)  # waypoints the chain passes, in order

    @property
    def hops(self) -> int:
        return len(self.vertices) - 1


class PathError(ValueError):
    """No chain satisfies the request (or the request is malformed)."""


def make_chain(
    vertices: list[int], steps: list[float], mode: str, bound: float, optimal: bool = True
) -> Chain:
    """A :class:`Chain` from its vertices and step distances (largest step and total derived)."""
    return Chain(
        vertices=[int(v) for v in vertices],
        steps=steps,
        largest_step=max(steps, default=0.0),
        total=float(sum(steps)),
        mode=mode,
        bound=float(bound),
        optimal=optimal,
    )
