"""Python's garbage collector in a build's process: no collections while the pipeline is
imported, the objects alive when a run starts left out of its collections and given back when
it ends, every object frozen at exit. The resource's part: ``xdeg_pipeline_tests/
test_resources.py``."""

from __future__ import annotations

import gc
import subprocess
import sys

from xdeg_pipeline.core import collector

# An atexit handler registered first runs last: it sees what the shutdown's collections will
# see (the frozen objects), and that the other handlers still run; a file left to the shutdown
# is still flushed when its object goes.
_CHILD = """
import atexit, gc, sys
atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0, flush=True))
log = open(sys.argv[2], "w")
log.write("written at exit")  # flushed and closed when the module's objects go
garbage = [[i] for i in range(10_000)]
if sys.argv[1] == "freeze":
    from xdeg_pipeline.core.collector import freeze_at_exit
    print(freeze_at_exit(), freeze_at_exit(), flush=True)
"""


def _run(mode: str, tmp_path) -> tuple[list[str], str]:
    log = tmp_path / f"{mode}.txt"
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(log)], capture_output=True,
                         text=True, check=True).stdout.split()
    return out, log.read_text()


def test_the_objects_are_frozen_at_exit_once_and_files_still_flushed(tmp_path) -> None:
    out, written = _run("freeze", tmp_path)
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


def test_importing_collects_nothing_and_leaves_what_it_made_out() -> None:
    assert gc.isenabled() and gc.get_freeze_count() == 0
    try:
        with collector.importing():
            assert not gc.isenabled()
            made = [[i] for i in range(1_000)]
        assert gc.isenabled() and gc.get_freeze_count() >= len(made)
        collector.run_ended()
        assert gc.get_freeze_count() == 0
        gc.disable()  # a process that turned collection off keeps it off
        with collector.importing():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_a_run_leaves_the_objects_alive_at_its_start_out_until_it_ends() -> None:
    try:
        collector.run_started()
        assert gc.get_freeze_count() > 0 and collector._at_exit
        collector.run_ended()
        assert gc.get_freeze_count() == 0 and gc.isenabled()
    finally:
        gc.unfreeze()
