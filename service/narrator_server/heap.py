"""The process heap: glibc's malloc kept from holding on to memory the service freed.

Measured (docs/operations.md, Performance): after a burst of streams, glibc kept ~10 MB of
freed memory in its arenas (the main heap's free chunks below live ones, and the arenas of
gRPC's threads), and Python's cyclic garbage from cancelled streams (exceptions, their
tracebacks and frames) waited for the collector's next full pass. So, with
NARRATOR_HEAP_TRIM_S > 0: at start, fixed mmap and trim thresholds (glibc otherwise raises
them as large buffers come and go, and large blocks then stay in the heap for good); every
interval, `malloc_trim(0)` in a worker thread (it returns the free pages of every arena, a
fraction of a millisecond); and once each time the server goes idle (no stream, no running
turn), a full garbage collection before that trim, so that the next burst reuses the memory.
Off glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

# mallopt(3) parameters and the values set at start: allocations of 256 KiB or more get their
# own mapping (returned whole when freed), and a free top of the heap over 256 KiB is returned.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 256 * 1024


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):  # not glibc: no malloc_trim/mallopt
        return None
    return libc


_LIBC = _glibc()


def tune() -> bool:
    """Fixes glibc's mmap and trim thresholds; False when this is not glibc."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES)) and bool(
        _LIBC.mallopt(M_TRIM_THRESHOLD, THRESHOLD_BYTES)
    )


def trim() -> bool:
    """Returns the free memory of every malloc arena to the OS (blocking: call it off the
    event loop). True when some was returned."""
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


class HeapKeeper:
    """Trims every `interval` seconds; collects garbage once each time `busy()` drops to 0."""

    def __init__(self, interval: float, busy: Callable[[], int]) -> None:
        self.interval = interval
        self._busy = busy
        self._collected_idle = False
        self.collections = 0  # full collections run because the server went idle

    async def once(self) -> None:
        """One round: the collection if the server just went idle, then the trim."""
        if self._busy():
            self._collected_idle = False
        elif not self._collected_idle:
            self._collected_idle = True
            # Idle: no stream is waiting on the event loop while the collector runs.
            gc.collect()
            self.collections += 1
        await asyncio.to_thread(trim)

    async def run(self) -> None:
        if _LIBC is None:
            log.debug("not glibc: the heap is left to its allocator")
            return
        while True:
            await asyncio.sleep(self.interval)
            await self.once()
