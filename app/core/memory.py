"""Handing memory freed during start-up back to the operating system.

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

logger = logging.getLogger("dlserve")


def settle_after_start_up() -> None:
    gc.collect()
    gc.freeze()
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    try:
        ctypes.CDLL(libc_name).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim this way
        logger.debug("malloc_trim is not available on this C library")
