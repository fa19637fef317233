"""Whether this code runs as a task on a Dask worker, and how it reaches that worker's cluster.

A Dask worker has imported ``distributed`` already: where it is not imported this is no worker,
and importing it just to ask (0.3 s) is skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any


def worker_client() -> Callable[[], AbstractContextManager[Any]] | None:
    """``distributed.worker_client`` (a client of the cluster, for tasks from a task) when this
    runs on a Dask worker, else None."""
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import get_worker
        from distributed import worker_client as client
    except ImportError:
        return None
    try:
        get_worker()
    except ValueError:
        return None
    return client
