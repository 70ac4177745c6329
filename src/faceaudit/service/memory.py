"""Giving freed memory back to the system after image work (glibc's ``malloc_trim``).

The image work of a request (the decoded pixels, detection's scaled copies and pyramids)
allocates tens of MB in whichever of the server's threads ran it; glibc keeps what is freed in
that thread's arena, so after a burst the server's RSS stays high although nothing uses it.
:func:`release_freed_memory` returns those free pages to the system (``malloc_trim(0)`` walks
every arena); on a C library without it, it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def tune_allocator(mmap_threshold: int = 1 << 20, arenas: int = 2) -> bool:
    """Make glibc map every block of ``mmap_threshold`` bytes or more on its own (so an image
    buffer, once freed, is unmapped at once, instead of glibc raising the threshold after the
    first free and keeping the next ones in the heap) and use at most ``arenas`` malloc arenas
    (instead of up to 8 per core, one per thread of the server's pool). False where not glibc.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
    libc.mallopt(_M_ARENA_MAX, arenas)
    return True


def release_freed_memory() -> bool:
    """Return the memory freed in every malloc arena to the system; False where not possible."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
