"""A process that ran a build exits without Python's last garbage collections.

When the interpreter shuts down it clears every module and runs full garbage collections over
all the objects still alive: after a build, about 270,000 (functions, tuples, dicts of
Dagster, pandas, SQLAlchemy...), walked several times. Adding 40 images to 4,000, from the end
of the command to the process's end (2-3 runs each): ``xdeg build`` 0.70-0.76 s -> 0.074-0.075
s, ``dagster job execute -j build`` 0.78-0.85 s -> 0.10-0.11 s; ``perf`` puts 56 % of the 0.7 s
in ``gc_collect_main``.

:func:`skip_final_collection` freezes them (:func:`gc.freeze`) at exit, before the shutdown's
collections, so those walk only what is made after. Everything else happens as before: the
other ``atexit`` handlers run, files and streams are flushed and closed as their objects go, and
the operating system takes the memory back. Only objects held in reference cycles are not
finalised then, which Python does not promise at shutdown either. The CLI calls it, and
the resource does when a run starts in a process (``dagster job execute``, the process of a
run launched by the UI, a sensor or a schedule, a step process); a code server that only loads
the definitions keeps Python's shutdown as it is.
"""

from __future__ import annotations

import atexit
import gc
import threading

_lock = threading.Lock()
_registered = False


def skip_final_collection() -> bool:
    """Freeze the process's objects when it exits (once per process); True the first time."""
    global _registered
    with _lock:
        if _registered:
            return False
        atexit.register(gc.freeze)
        _registered = True
        return True
