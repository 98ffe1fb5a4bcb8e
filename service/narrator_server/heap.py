"""The process heap: glibc's malloc kept from holding on to memory the service freed.

Measured (docs/operations.md, Performance): after a burst of streams, glibc kept ~10 MB of
freed memory in its arenas (the main heap's free chunks below live ones, and the arenas of
gRPC's threads), and Python's cyclic garbage from cancelled streams (exceptions, their
tracebacks and frames) waited for the collector's next full pass. So, with
NARRATOR_HEAP_TRIM_S > 0: every interval, `malloc_trim(0)` in a worker thread (it returns the
free pages of every arena; 0.2 ms typical, 1 ms at most, measured under 100 streams); and
once each time the server goes idle (no stream, no running turn), a full garbage collection
before that trim, so that the next burst reuses that memory instead of adding to it.
glibc's thresholds are left alone: a fixed mmap threshold of 256 KiB or less would give every
socket read of asyncio (a 256 KiB buffer, shrunk after) its own mapping, three system calls a
read. Off glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: glibc's when it is glibc
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc: no malloc_trim
        return None
    return libc


_LIBC = _glibc()


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
