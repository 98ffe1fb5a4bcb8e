"""The worker pool runs functions in processes, within their budget, whatever they do."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import Overloaded
from narrator_server.core.offload import WorkFailed
from narrator_server.testing import work
from narrator_server.workers import frames
from narrator_server.workers import pool as pool_module
from narrator_server.workers.pool import WorkerPool

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    workers = WorkerPool(size=1, queue_limit=4, preload=())
    try:
        yield workers
    finally:
        await workers.close()


async def test_results_come_back_in_order(pool: WorkerPool) -> None:
    got = await pool.map(work.echo, [1, "two", {"three": [3]}], each=5, total=10)
    assert got == [1, "two", {"three": [3]}]
    assert await pool.map(work.echo, [], each=5, total=10) == []


async def test_python_code_that_overruns_is_stopped_and_the_worker_kept(pool: WorkerPool) -> None:
    (before,) = await pool.map(work.pid, [None], each=5, total=10)
    got = await pool.map(work.spin, [None], each=0.2, total=5)
    assert got == [WorkFailed(overrun=True, reason="overrun")]
    assert await pool.map(work.pid, [None], each=5, total=10) == [before]
    assert pool.killed == 0


async def test_a_worker_stuck_in_c_code_is_killed_and_replaced(pool: WorkerPool) -> None:
    (before,) = await pool.map(work.pid, [None], each=5, total=10)
    got = await pool.map(work.deaf, [None, None], each=0.2, total=0.3)
    assert got == [WorkFailed(overrun=True)] * 2
    assert pool.killed == 1
    (after,) = await pool.map(work.pid, [None], each=5, total=10)
    assert after != before
    got = await pool.map(work.backtrack, [64, 3], each=0.2, total=5)
    assert got == [WorkFailed(overrun=True, reason="overrun"), False]


async def test_the_total_budget_covers_the_items_not_reached(pool: WorkerPool) -> None:
    got = await pool.map(work.spin, [None, None, None], each=0.2, total=0.3)
    assert all(isinstance(g, WorkFailed) and g.overrun for g in got)


async def test_failures_are_reported_per_item(pool: WorkerPool) -> None:
    got = await pool.map(work.fail, ["boom"], each=5, total=10)
    assert got == [WorkFailed(overrun=False, reason="ValueError")]
    got = await pool.map(work.allocate, [4 << 30, 10], each=5, total=10)
    assert got == [WorkFailed(overrun=False, reason="out of memory"), 10]


async def test_too_many_waiting_calls_are_refused(pool: WorkerPool) -> None:
    busy = [asyncio.ensure_future(pool.map(work.spin, [None], each=0.5, total=1)) for _ in range(5)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await pool.map(work.echo, [1], each=5, total=10)
    assert all(
        g == [WorkFailed(overrun=True, reason="overrun")] for g in await asyncio.gather(*busy)
    )


async def test_a_caller_that_goes_away_leaves_the_worker_usable(pool: WorkerPool) -> None:
    call = asyncio.ensure_future(pool.map(work.spin, [None], each=1.0, total=2))
    await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await pool.map(work.echo, ["still here"], each=5, total=10) == ["still here"]
    assert pool.killed == 0


async def test_only_functions_of_this_package_run(pool: WorkerPool) -> None:
    import os.path

    got = await pool.map(os.path.basename, ["/a/b"], each=5, total=10)
    assert got == [WorkFailed(overrun=False, reason="not a function of this package")]


async def test_workers_start_with_the_schema_libraries_loaded() -> None:
    # The server process leaves jsonschema and RE2 to its workers; a call's budget must not
    # pay for importing them, so each worker imports them as it starts.
    workers = WorkerPool(size=1)
    try:
        names = ["jsonschema", "re2", "referencing", "narrator_server.core.schema_validator"]
        assert await workers.map(work.loaded, names, each=5, total=10) == [True] * 4
    finally:
        await workers.close()


class _ChildSayingReadyAsItsCallerLeaves:
    """A worker process stand-in: its ready frame arrives in the same step as the cancel of
    the call that started it (the race a real worker can lose on a busy machine)."""

    def __init__(self, caller: asyncio.Task[object]) -> None:
        self.pid = 0
        self.killed = False
        self.stdin = self.stdout = self
        self._reader = asyncio.StreamReader()
        self._caller = caller
        self._reader.feed_data(frames.encode(frames.READY))
        self._said_ready = False

    async def readexactly(self, n: int) -> bytes:
        data = await self._reader.readexactly(n)
        if not self._said_ready and n != frames.HEADER.size:  # the ready frame's body
            self._said_ready = True
            self._caller.cancel()
        return data

    def write(self, data: bytes) -> None:  # the call: answered at once
        self._reader.feed_data(frames.encode((0, True, "done")) + frames.encode((-1, True, None)))

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        pass

    def kill(self) -> None:
        self.killed = True

    async def wait(self) -> int:
        return 0


async def test_a_caller_that_goes_away_as_its_worker_starts_is_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[_ChildSayingReadyAsItsCallerLeaves] = []

    async def spawn(argv: list[str]) -> _ChildSayingReadyAsItsCallerLeaves:
        child = _ChildSayingReadyAsItsCallerLeaves(caller)
        started.append(child)
        return child

    monkeypatch.setattr(pool_module, "spawn", spawn)
    workers = WorkerPool(size=1, preload=())
    caller: asyncio.Task[object] = asyncio.ensure_future(
        workers.map(work.echo, ["x"], each=5, total=10)
    )
    try:
        with pytest.raises(asyncio.CancelledError):
            await caller
    finally:
        await workers.close()
    assert len(started) == 1
