"""igraph is imported without matplotlib, which stays importable for everything else."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
from xdeg_pipeline.core.graph.igraph_import import igraph as ig
loaded = sorted(n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib."))
g = ig.Graph([(0, 1), (1, 2)])
assert g.get_shortest_path(0, 2) == [0, 1, 2]
import pickle
assert pickle.loads(pickle.dumps(g)).ecount() == 2
import matplotlib.pyplot
print(len(loaded), "pyplot" in dir(matplotlib))
"""


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_igraph_loads_no_matplotlib_and_matplotlib_still_imports() -> None:
    assert _run(_PROBE) == "0 True"


def test_matplotlib_imported_first_is_kept() -> None:
    out = _run("import matplotlib, sys\n"
               "from xdeg_pipeline.core.graph.igraph_import import igraph\n"
               "print(sys.modules['matplotlib'] is matplotlib, 'matplotlib.pyplot' in sys.modules)")
    assert out == "True False"
