"""Samples of images that stay put when the collection changes (issue 21).

A seeded ``rng.choice(n, ...)`` over vertex ids draws a different sample as soon as one image
joins: every sampled quantity (the hub load, the random-pair median, the landmarks) moves, and
with it chains that nothing near them changed. Here each image gets a 64-bit key from its
content hash (:func:`vertex_keys`); a sample is the images whose key, mixed with a salt, is
smallest (:func:`ranked_sample`). An image that arrives enters a sample only if its own mixed
key is small enough, so a 1 % larger collection keeps about 99 % of every sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix(keys: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of ``keys`` xor the salt's own mix: independent orders for different salts."""
    with np.errstate(over="ignore"):
        z = np.asarray(keys, dtype=np.uint64) ^ (np.uint64(salt & (2**64 - 1)) * _GOLDEN)
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def vertex_keys(hashes: Sequence[str] | None, n: int) -> np.ndarray:
    """A 64-bit key per image from its content hash (by vertex id when there are none)."""
    if hashes is None or len(hashes) != n:
        return mix(np.arange(n, dtype=np.uint64), 0x5EED)
    return np.array([int.from_bytes(hashlib.blake2b(str(h).encode(), digest_size=8).digest(),
                                    "little") for h in hashes], dtype=np.uint64)


def graph_keys(graph) -> np.ndarray:
    """:func:`vertex_keys` of an igraph graph (vertex attribute ``content_hash`` if it has one)."""
    hashes = graph.vs["content_hash"] if "content_hash" in graph.vs.attributes() else None
    return vertex_keys(hashes, graph.vcount())


def ranked_sample(keys: np.ndarray, size: int, salt: int,
                  pool: np.ndarray | None = None) -> np.ndarray:
    """The ``size`` members of ``pool`` (default: all) whose mixed keys are smallest, by id."""
    pool = np.arange(len(keys)) if pool is None else np.asarray(pool)
    size = min(int(size), len(pool))
    if size <= 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(mix(keys[pool], salt), kind="stable")[:size]
    return np.sort(pool[order]).astype(np.int64)


def ranked_pairs(keys: np.ndarray, samples: int, salt: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """About ``samples`` pairs of different images (at least ``samples``): each round orders
    the images by their mixed keys and pairs neighbours in that order, so one new image changes
    two pairs a round."""
    n = len(keys)
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rounds = max(1, -(-int(samples) // (n - 1)))
    a, b = [], []
    for r in range(rounds):
        order = np.argsort(mix(keys, salt * 1_000_003 + r), kind="stable")
        a.append(order[:-1])
        b.append(order[1:])
    return np.concatenate(a), np.concatenate(b)
