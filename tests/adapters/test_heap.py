"""The heap keeper against this process's real glibc allocator and garbage collector."""

from __future__ import annotations

import gc
import os
import weakref

import pytest

from narrator_server import heap

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def test_trim_returns_freed_heap_memory_that_free_alone_keeps() -> None:
    if not heap.trim():
        pytest.skip("not glibc: the keeper does nothing there")
    # 24 MB of heap blocks (each under the mmap threshold), then every block but one in 64
    # freed: the survivors pin the free space between them, which free() never returns.
    blocks = [bytes(4000) for _ in range(6000)]
    survivors = blocks[::64]
    del blocks
    before = rss()
    assert heap.trim()
    assert before - rss() > 8 * 2**20
    assert len(survivors) == 94


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


async def test_garbage_is_collected_once_each_time_the_server_goes_idle() -> None:
    streams = [3]
    keeper = heap.HeapKeeper(1.0, lambda: streams[0])
    gc.disable()  # only the keeper collects here
    try:
        node = _Node()
        gone = weakref.ref(node)
        del node
        await keeper.once()
        assert gone() is not None  # streams open: no collection pauses them
        assert keeper.collections == 0
        streams[0] = 0
        await keeper.once()
        assert gone() is None
        assert keeper.collections == 1
        await keeper.once()  # still idle: once is enough
        assert keeper.collections == 1
        streams[0] = 1
        await keeper.once()
        streams[0] = 0
        await keeper.once()  # idle again after a burst
        assert keeper.collections == 2
    finally:
        gc.enable()
