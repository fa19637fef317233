"""Python's garbage collector in a build's process: no collections while the pipeline is
imported and what the imports made left out of later ones, every object frozen at exit. The
resource's part: ``xdeg_pipeline_tests/test_resources.py``."""

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
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with collector.importing():
            assert not gc.isenabled()
            made = [[i] for i in range(1_000)]
        assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(made)
        gc.disable()  # a process that turned collection off keeps it off
        with collector.importing():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_xdeg_build_imports_the_pipeline_with_the_collector_off(tmp_path) -> None:
    """The CLI's build (here one that fails at once: an empty folder) leaves the objects of its
    imports out of collections, and collects again after them."""
    (tmp_path / "empty").mkdir()
    child = ("import gc, sys\n"
             "from xdeg_pipeline.cli import main\n"
             "frozen = gc.get_freeze_count()\n"
             "main(['build', '--images', sys.argv[1] + '/empty', '--home', sys.argv[1] + '/h'])\n"
             "print(gc.get_freeze_count() > frozen + 100_000, gc.isenabled())\n")
    done = subprocess.run([sys.executable, "-c", child, str(tmp_path)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["True", "True"], done.stdout + done.stderr
    assert "no usable image" in done.stderr
