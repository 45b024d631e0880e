"""Keeping resident memory bounded: fewer malloc arenas, and start-up memory handed back.

glibc gives each thread that allocates its own malloc arena, up to 8 per core, and an arena
keeps what it has freed. Under a mixed load (CSV uploads parsed by pandas in worker threads
beside inference and logging threads) that was measured by `make soak` as resident memory that
went 1,118 → 1,180 MB in a short run; with two arenas 896 → 906 MB (MAX_CONCURRENT_CSV bounds the
rest: see the README). So the server limits itself to MALLOC_ARENAS arenas before it starts any
thread, unless MALLOC_ARENA_MAX is set.

Loading and optimizing the models allocates and frees a lot (the committed modules, probe
batches, jieba's build of its dictionary); glibc keeps those freed pages in its heap, so the
resident size stays at the start-up peak. `malloc_trim(0)` returns them; then `gc.freeze()`
moves the long-lived objects out of the collector's way (a full collection walked them all:
up to 159 ms each, the whole p99 tail under load).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os

logger = logging.getLogger("dlserve")


M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
MALLOC_ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def limit_malloc_arenas(count: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before threads start); False where that is not possible or was set."""
    if "MALLOC_ARENA_MAX" in os.environ:  # the operator's own choice, which glibc has already read
        return False
    libc = _libc()
    try:
        return bool(libc is not None and libc.mallopt(M_ARENA_MAX, count))
    except AttributeError:  # not glibc (musl, macOS)
        return False


def settle_after_start_up() -> None:
    gc.collect()
    gc.freeze()
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
    except AttributeError:  # not glibc (musl, macOS): nothing to trim this way
        logger.debug("malloc_trim is not available on this C library")
