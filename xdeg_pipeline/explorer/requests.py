"""Turn query parameters into a path request, or a one-line error (HTTP 400)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xdeg_pipeline.core import params
from xdeg_pipeline.core.query import PathRequest

MODES = ("smooth", "steps", "shortest")
MAX_ALTERNATIVES = 10
MAX_LIMIT = 100_000
MAX_NAME = 1_000
MAX_LIST = 50
PATH_PARAMS = ("source", "target", "mode", "steps", "alternatives", "avoid", "via", "where",
               "chain")


class BadRequest(ValueError):
    """A malformed request: the message is one line for the JSON ``error``."""


@dataclass(frozen=True)
class PathQuery:
    """A parsed /api/path request (names as typed; resolved later)."""

    source: str
    target: str
    mode: str
    steps: int | None
    alternatives: int
    avoid: tuple[str, ...]
    via: tuple[str, ...]
    where: tuple[str, ...] = ()  # filter conditions (FIELD OP VALUE), checked by core
    chain: tuple[str, ...] = ()  # a pinned chain's images (a shared link): kept while it exists

    def request(self, source: str, target: str, avoid: Sequence[str],
                via: Sequence[str] = ()) -> PathRequest:
        """The core request with the names resolved."""
        return PathRequest(source=source, target=target, mode=self.mode, steps=self.steps,
                           alternatives=self.alternatives, avoid=tuple(avoid), via=tuple(via),
                           where=self.where, chain=self.chain)


class Params:
    """Read access to repeated query parameters (``multi_items``) with checks."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self.values: dict[str, list[str]] = {}
        for key, value in items:
            self.values.setdefault(key, []).append(value)

    def one(self, key: str, default: str | None = None) -> str | None:
        got = self.values.get(key)
        if not got:
            return default
        if len(got) > 1:
            raise BadRequest(f"parameter {key!r} given {len(got)} times; give it once")
        return _name(key, got[0])

    def many(self, key: str, most: int = MAX_LIST) -> tuple[str, ...]:
        got = [v for v in self.values.get(key, []) if v != ""]
        if len(got) > most:
            raise BadRequest(f"at most {most} values of {key!r}")
        return tuple(_name(key, v) for v in got)

    def integer(self, key: str, lo: int, hi: int, default: int | None) -> int | None:
        raw = self.one(key)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise BadRequest(f"{key} must be an integer, got {_short(raw)}") from None
        if not lo <= value <= hi:
            raise BadRequest(f"{key} must be between {lo} and {hi}, got {value}")
        return value


def _short(text: str, n: int = 40) -> str:
    shown = text if len(text) <= n else text[:n] + "..."
    return repr(shown)


def _name(key: str, value: str) -> str:
    if len(value) > MAX_NAME:
        raise BadRequest(f"{key} is longer than {MAX_NAME} characters")
    if "\x00" in value:
        raise BadRequest(f"{key} contains a NUL character")
    return value


def parse_path_query(items: Sequence[tuple[str, str]] | Mapping[str, str]) -> PathQuery:
    """The request of ``/api/path`` (BadRequest for anything malformed)."""
    p = Params(list(items.items()) if isinstance(items, Mapping) else items)
    source, target = p.one("source"), p.one("target")
    missing = [k for k, v in (("source", source), ("target", target)) if not v]
    if missing:
        raise BadRequest(f"missing {' and '.join(missing)}: give source=NAME&target=NAME")
    steps = p.integer("steps", 0, params.MAX_STEPS, None)
    mode = p.one("mode") or ("steps" if steps is not None else "smooth")
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}, got {_short(mode)}")
    if mode == "steps" and steps is None:
        raise BadRequest("mode steps needs steps=X (the number of intermediate images)")
    if mode != "steps" and steps is not None:
        raise BadRequest(f"steps is only used with mode=steps, not mode={mode}")
    alternatives = p.integer("alternatives", 1, MAX_ALTERNATIVES, 1)
    chain = p.many("chain", params.MAX_STEPS + 2)
    if chain and len(chain) < 2:
        raise BadRequest("chain must list the images of a chain, source to target")
    return PathQuery(source, target, mode, steps, alternatives, p.many("avoid"), p.many("via"),
                     p.many("where"), chain)


def parse_images_query(items: Sequence[tuple[str, str]]) -> tuple[str, int, tuple[str, ...]]:
    """``q``, ``limit`` and the filter conditions (``where``, repeatable) of ``/api/images``."""
    p = Params(items)
    return p.one("q", "") or "", p.integer("limit", 1, MAX_LIMIT, 50), p.many("where")
