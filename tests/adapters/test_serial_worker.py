"""The store's worker thread: calls in order, answers on the caller's loop, cancellations."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from narrator_server.store.serial_worker import SerialWorker


async def test_calls_run_in_order_on_one_other_thread_and_answer_or_raise() -> None:
    worker = SerialWorker("test-worker")
    try:
        ran: list[tuple[int, str]] = []

        def job(i: int) -> int:
            ran.append((i, threading.current_thread().name))
            return i * 10

        results = await asyncio.gather(*(worker.call(job, i) for i in range(20)))
        assert results == [i * 10 for i in range(20)]
        assert [i for i, _ in ran] == list(range(20))
        assert {name for _, name in ran} == {"test-worker"}

        def fail() -> None:
            raise ValueError("refused")

        with pytest.raises(ValueError, match="refused"):
            await worker.call(fail)
        assert await worker.call(job, 7) == 70  # still serving after an error
    finally:
        worker.close()


async def test_a_call_cancelled_before_its_turn_is_skipped() -> None:
    worker = SerialWorker("test-worker")
    try:
        gate, ran = threading.Event(), []
        blocking = worker.call(gate.wait, 5)
        skipped = worker.call(ran.append, "skipped")
        skipped.cancel()
        gate.set()
        assert await blocking is True
        await worker.call(ran.append, "after")
        assert ran == ["after"]
    finally:
        worker.close()


async def test_a_call_cancelled_while_it_runs_leaves_the_loop_clean() -> None:
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: problems.append(context))
    worker = SerialWorker("test-worker")
    try:
        started, gate = threading.Event(), threading.Event()

        def slow() -> str:
            started.set()
            gate.wait(5)
            return "done"

        running = worker.call(slow)
        await asyncio.to_thread(started.wait, 5)
        running.cancel()
        gate.set()
        assert await worker.call(str, 3) == "3"  # its answer came back, to a done future
        assert running.cancelled()
        assert problems == []
    finally:
        worker.close()
        loop.set_exception_handler(None)


async def test_closing_runs_what_was_asked_then_refuses() -> None:
    worker = SerialWorker("test-worker")
    ran: list[int] = []
    pending = [worker.call(ran.append, i) for i in range(3)]
    worker.close()
    assert ran == [0, 1, 2]
    await asyncio.gather(*pending)
    with pytest.raises(RuntimeError):
        worker.call(ran.append, 3)
