"""A process that ran a build exits without Python's last garbage collections: its objects are
frozen at exit, before the shutdown's collections, and everything else still happens. The CLI
calls it; the resource does when a run starts (``xdeg_pipeline_tests/test_resources.py``)."""

from __future__ import annotations

import subprocess
import sys

# An atexit handler registered first runs last: it sees what the shutdown's collections will
# see (the frozen objects), and that the other handlers still run; a file left to the shutdown
# is still flushed when its object goes.
_CHILD = """
import atexit, gc, sys
atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0, flush=True))
log = open(sys.argv[2], "w")
log.write("written at exit")  # flushed and closed when the module's objects go
garbage = [[i] for i in range(10_000)]
if sys.argv[1] == "skip":
    from xdeg_pipeline.core.quick_exit import skip_final_collection
    print(skip_final_collection(), skip_final_collection(), flush=True)
"""


def _run(mode: str, tmp_path) -> tuple[list[str], str]:
    log = tmp_path / f"{mode}.txt"
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(log)], capture_output=True,
                         text=True, check=True).stdout.split()
    return out, log.read_text()


def test_the_objects_are_frozen_at_exit_once_and_files_still_flushed(tmp_path) -> None:
    out, written = _run("skip", tmp_path)
    assert out == ["True", "False", "frozen", "True"]  # registered once; frozen at exit
    assert written == "written at exit"
    out, written = _run("plain", tmp_path)
    assert out == ["frozen", "False"] and written == "written at exit"


def test_the_cli_exits_without_the_last_collections(tmp_path) -> None:
    child = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
             "from xdeg_pipeline.cli import main\n"
             "sys.exit(main(['verify', '--home', sys.argv[1]]))\n")
    done = subprocess.run([sys.executable, "-c", child, str(tmp_path)], capture_output=True,
                          text=True, check=False)
    assert done.stdout.split()[-2:] == ["frozen", "True"], done.stdout + done.stderr
