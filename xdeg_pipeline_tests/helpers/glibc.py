"""For tests of the build's malloc tuning (``core/allocator.py``): whether this is glibc, and an
environment for a child process without glibc's own malloc variables."""

from __future__ import annotations

import os
import platform

GLIBC = platform.libc_ver()[0] == "glibc"


def env_without_malloc(**extra: str) -> dict[str, str]:
    """This process's environment less ``MALLOC_*`` and ``GLIBC_TUNABLES``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    return {**env, **extra}
