"""Defaults of the similarity space, graph and path search (chosen by measurement, see notes).

TODO: evidence to be filled in from benchmarks/path_quality.py.
"""

from __future__ import annotations

PCA_COMPONENTS: int | None = 64
PCA_MAX_SAMPLES = 50_000

KNN_K = 15
KNN_SPACE = "l2"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 100

SIGMA_K = 7
SMOOTH_SLACK = 0.30
SMOOTH_POWER = 4.0
HUB_PENALTY = 100.0
LOAD_ROUNDS = 3
LOAD_SOURCES = 32
LOAD_WORK = 5e7  # arcs x sources per load round (keeps the estimate bounded on huge graphs)

STEPS_SEARCH_BUDGET = 200_000
MAX_STEPS = 1_000
