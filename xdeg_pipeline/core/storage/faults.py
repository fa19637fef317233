"""Faults of the data folder said in one line: what happened, where, and what to do.

:func:`describe` turns an ``OSError`` (disk full, read-only file system, permission denied, a
vanished folder, an I/O error) or a SQLite error (the Dagster instance's database) into one
sentence; :class:`DataFolderFault` carries it. The stage runner raises it for a fault while a
stage computes or writes, the CLI prints it as ``xdeg: <sentence>`` (exit 1, no traceback
unless ``-v``), and in Dagster the step fails with the same sentence.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

AGAIN = "run `xdeg build` again"


class DataFolderFault(RuntimeError):
    """A fault of the file system or of the instance's database, said in one line."""


def _where(exc: OSError) -> str:
    name = exc.filename or exc.filename2
    return str(name) if name else "the data folder"


def _folder(path: str) -> str:
    """The folder a temporary or output file lives in (what a user can act on)."""
    p = Path(path)
    return str(p.parent if p.name.startswith(".") or p.suffix else p)


def describe_os_error(exc: OSError, doing: str = "", images_root: Path | None = None) -> str:
    """One sentence for an ``OSError`` met while ``doing`` (e.g. "writing knn_edges")."""
    where, during = _where(exc), f" while {doing}" if doing else ""
    code = exc.errno  # its own words: pyarrow's strerror is "Error writing bytes to file..."
    reason = os.strerror(code) if code else exc.strerror or str(exc)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return (f"the disk holding {_folder(where)} is full ({reason}){during}; the work saved "
                f"before it is kept: free space and {AGAIN}")
    if code == errno.EROFS:
        return (f"{_folder(where)} is on a read-only file system ({reason}){during}; make it "
                f"writable or set XDEG_HOME to a writable folder, then {AGAIN}")
    if code in (errno.EACCES, errno.EPERM):
        return (f"permission denied on {where} ({reason}){during}; give this user write access "
                f"or set XDEG_HOME to a folder it can write, then {AGAIN}")
    if code == errno.ENOENT and images_root is not None and not Path(images_root).is_dir():
        return (f"the collection folder {images_root} is gone ({reason}: {where}){during}; "
                f"reconnect or restore it (or set XDEG_IMAGES), then {AGAIN}")
    if code in (errno.EIO, errno.ESTALE, errno.ENOTCONN, errno.EHOSTDOWN):
        return (f"input/output error on {where} ({reason}){during}: a failing disk or a network "
                f"share that dropped; check it, then {AGAIN}")
    return f"{reason} on {where}{during}; fix it, then {AGAIN}"


def describe_sqlite_error(exc: BaseException, home: Path | None = None) -> str:
    """One sentence for the Dagster instance's SQLite database failing."""
    where = f"{Path(home) / 'dagster'}" if home is not None else "the Dagster instance"
    # SQLite says "disk I/O error" as often as "database or disk is full" when the disk fills
    if "full" in str(exc).lower() or (home is not None and _nearly_full(Path(home))):
        return (f"the disk holding {where} is full ({exc}: the Dagster instance's database); "
                f"the work saved before it is kept: free space and {AGAIN}")
    return (f"the Dagster instance's database in {where} failed ({exc}); check free space "
            f"and write access on that disk, then {AGAIN}")


def _nearly_full(folder: Path, margin: int = 1 << 20) -> bool:
    """Whether the disk holding ``folder`` has less than ``margin`` bytes free."""
    try:
        import shutil

        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


def find_fault(exc: BaseException) -> BaseException | None:
    """The first ``DataFolderFault``, ``OSError`` or SQLite error in ``exc``'s chain."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (DataFolderFault, OSError)) or type(e).__module__ == "sqlite3":
            return e
        todo += [e.__cause__, e.__context__]
    return None


def describe(exc: BaseException, doing: str = "", home: Path | None = None,
             images_root: Path | None = None) -> str | None:
    """The one sentence for the fault in ``exc``'s chain, None when there is none."""
    fault = find_fault(exc)
    if fault is None:
        return None
    if isinstance(fault, DataFolderFault):
        return str(fault)
    if isinstance(fault, OSError):
        return describe_os_error(fault, doing, images_root)
    return describe_sqlite_error(fault, home)
