"""Python's garbage collector in a build's process: the objects of the imports left alone.

A build's process holds about 270,000 objects that live as long as it does (functions, tuples,
dicts of Dagster, pandas, SQLAlchemy...). Python's full collections walk all of them, again and
again: while the modules are imported, during the run, and several times while the interpreter
shuts down. After adding 40 images to 4,000 (``xdeg build``), the collections took 0.57 s of
the run (0.39 s in five full ones) and the shutdown 0.70-0.76 s (``perf``: 56 % of it in
``gc_collect_main``).

- :func:`importing` turns collection off while ``xdeg build`` imports the pipeline (imports
  make objects that stay, not garbage) and leaves every object alive then out of later
  collections (:func:`gc.freeze`), so the run's full collections walk only what the run makes.
  For a process that ends after its build: a notebook's would keep its garbage of then.
- :func:`freeze_at_exit` freezes every object when the process exits, before the shutdown's
  collections. The CLI calls it for every command, and the resource when a run starts in a
  process (``dagster job execute``, a launched run's process, a step process); a code server
  that only loads the definitions is left as it is.

Everything else happens as before: the other ``atexit`` handlers run, and files and streams are
flushed and closed as their objects go. Only objects held in reference cycles are not finalised
at shutdown, which Python does not promise either.
"""

from __future__ import annotations

import atexit
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_at_exit = False


@contextmanager
def importing() -> Iterator[None]:
    """No collections inside, and every object alive at its end left out of them after, for
    the life of the process (collection is on again after, unless it was off already)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_on:
            gc.enable()


def freeze_at_exit() -> bool:
    """Freeze the process's objects when it exits (registered once); True the first time."""
    global _at_exit
    with _lock:
        if _at_exit:
            return False
        atexit.register(gc.freeze)
        _at_exit = True
        return True
