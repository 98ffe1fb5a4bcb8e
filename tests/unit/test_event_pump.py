"""The output check's event pump: read ahead in order, waits with a deadline, bounded."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.event_pump import EventPump

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator


async def test_events_come_in_order_with_their_stamps_then_the_end() -> None:
    stamps = iter(range(10, 20))

    async def source() -> AsyncGenerator[str]:
        for word in ("a", "b", "c"):
            yield word

    pump = EventPump(source(), lambda: next(stamps))
    pump.start()
    got = [await pump.next() for _ in range(4)]
    assert got == [("event", "a", 10), ("event", "b", 11), ("event", "c", 12), ("end", None, 0)]
    await pump.close()


async def test_a_failure_comes_after_what_the_source_said_before_it() -> None:
    async def source() -> AsyncGenerator[str]:
        yield "a"
        raise ValueError("upstream broke")

    pump = EventPump(source())
    pump.start()
    assert await pump.next() == ("event", "a", 0)
    kind, error, _ = await pump.next()
    assert kind == "failed"
    assert isinstance(error, ValueError)
    await pump.close()


async def test_a_deadline_that_passes_first_says_due_and_loses_nothing() -> None:
    release = asyncio.Event()

    async def source() -> AsyncGenerator[str]:
        await release.wait()
        yield "late"

    pump = EventPump(source())
    pump.start()
    due = time.monotonic() + 0.01
    assert await pump.next(due, time.monotonic) == ("due", None, 0)
    assert await pump.next(due, time.monotonic) == ("due", None, 0)  # already past: at once
    release.set()
    assert await pump.next(time.monotonic() + 60, time.monotonic) == ("event", "late", 0)
    await pump.close()


async def test_a_posted_wake_up_ends_a_wait() -> None:
    async def silent() -> AsyncGenerator[str]:
        await asyncio.Event().wait()
        yield "never"

    pump = EventPump(silent())
    pump.start()
    waiting = asyncio.ensure_future(pump.next(time.monotonic() + 60, time.monotonic))
    await asyncio.sleep(0)
    pump.post("checked")
    assert await waiting == ("checked", None, 0)
    await pump.close()


async def test_the_pump_reads_at_most_ahead_events_before_they_are_taken() -> None:
    read = 0

    async def endless() -> AsyncGenerator[str]:
        nonlocal read
        while True:
            read += 1
            yield f"w{read}"

    pump = EventPump(endless(), ahead=3)
    pump.start()
    for _ in range(5):
        await asyncio.sleep(0)
    assert read == 3
    assert await pump.next() == ("event", "w1", 0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert read == 4
    await pump.close()


@pytest.mark.parametrize("started", [True, False])
async def test_closing_closes_the_source(started: bool) -> None:
    closed = asyncio.Event()

    async def source() -> AsyncGenerator[str]:
        try:
            yield "a"
            await asyncio.Event().wait()
            yield "never"
        finally:
            closed.set()

    events = source()
    pump = EventPump(events)
    if started:
        pump.start()
        assert await pump.next() == ("event", "a", 0)
    else:
        await anext(events)  # read directly before any pump was needed
    await pump.close()
    assert closed.is_set()


async def test_a_sift_takes_the_events_a_waiting_reader_would_get_and_wakes_it_for_less() -> None:
    seen: list[str] = []

    def sift(event: object, stamp: int) -> tuple[str, object, int] | None:
        seen.append(str(event))
        return None if event in ("a", "b") else ("windows", list(seen), stamp)

    async def source() -> AsyncGenerator[str]:
        for word in ("a", "b", "c"):
            yield word
        await asyncio.Event().wait()  # the turn goes on: no end

    pump = EventPump(source(), lambda: 7, sift=sift)  # type: ignore[arg-type]
    pump.start()
    # One wake-up, for what the sift handed over: "a" and "b" were taken without one.
    assert await pump.next() == ("windows", ["a", "b", "c"], 7)
    await pump.close()


async def test_events_read_while_the_reader_is_busy_are_queued_as_they_are() -> None:
    read_all = asyncio.Event()
    sifted: list[object] = []

    async def source() -> AsyncGenerator[str]:
        for word in ("a", "b"):
            yield word
        read_all.set()
        await asyncio.Event().wait()

    pump = EventPump(source(), sift=lambda event, _: sifted.append(event))  # type: ignore[arg-type,func-returns-value]
    pump.start()
    await read_all.wait()  # the reader was not waiting: nothing may be taken in its stead
    assert [await pump.next() for _ in range(2)] == [("event", "a", 0), ("event", "b", 0)]
    assert sifted == []
    await pump.close()


async def test_a_sifts_hold_wakes_the_reader_once_the_deadline_passes_not_before() -> None:
    now = [100.0]
    words_in = asyncio.Event()

    def sift(event: object, stamp: int) -> tuple[str, object, int] | None:
        # "a" starts held words due at 100.05 (on the reader's clock); "b" only adds to them.
        return ("hold", 100.05, 0) if event == "a" else None

    async def source() -> AsyncGenerator[str]:
        yield "a"
        yield "b"
        words_in.set()
        await asyncio.Event().wait()

    pump = EventPump(source(), sift=sift)  # type: ignore[arg-type]
    reader = asyncio.ensure_future(pump.next(None, lambda: now[0]))
    await asyncio.sleep(0)  # the reader waits before anything is read
    pump.start()
    await words_in.wait()
    await asyncio.sleep(0.01)
    assert not reader.done()  # a hold is not a wake-up
    assert await reader == ("due", None, 0)  # the pump's timer, at the deadline
    await pump.close()


async def test_a_hold_already_due_wakes_the_reader_at_once() -> None:
    async def source() -> AsyncGenerator[str]:
        yield "a"
        await asyncio.Event().wait()

    pump = EventPump(source(), sift=lambda event, _: ("hold", 5.0, 0))  # type: ignore[arg-type,return-value]
    reader = asyncio.ensure_future(pump.next(None, lambda: 9.0))
    await asyncio.sleep(0)
    pump.start()
    assert await reader == ("due", None, 0)
    await pump.close()


async def test_once_the_reader_waits_with_a_deadline_of_its_own_a_hold_queues_nothing() -> None:
    go_b, go_c = asyncio.Event(), asyncio.Event()

    def sift(event: object, stamp: int) -> tuple[str, object, int] | None:
        return ("hold", time.monotonic() + 0.02, 0) if event == "a" else ("event", event, 0)

    async def source() -> AsyncGenerator[str]:
        yield "a"
        await go_b.wait()
        yield "b"
        await go_c.wait()
        yield "c"
        await asyncio.Event().wait()

    pump = EventPump(source(), sift=sift)  # type: ignore[arg-type]
    reader = asyncio.ensure_future(pump.next(None, time.monotonic))
    await asyncio.sleep(0)
    pump.start()
    await asyncio.sleep(0.005)  # "a" is held
    go_b.set()
    assert await reader == ("event", "b", 0)
    # The reader's own deadline (passed already) covers the held words from now on.
    assert await pump.next(time.monotonic() - 1, time.monotonic) == ("due", None, 0)
    await asyncio.sleep(0.03)  # the hold's timer goes off while the reader is busy
    go_c.set()
    await asyncio.sleep(0.005)
    assert await pump.next(None, time.monotonic) == ("event", "c", 0)  # no stale "due" first
    await pump.close()
