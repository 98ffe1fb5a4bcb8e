"""The watch use case over the in-process turn log: order, late joiners, slow watchers."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from narrator_server.core.errors import Overloaded
from narrator_server.core.models import (
    FinishReason,
    TextDelta,
    TurnCompleted,
    TurnKind,
    TurnStarted,
    Usage,
)
from narrator_server.core.turnlog import TurnInfo
from narrator_server.core.watch import watch_session
from narrator_server.turnlog.local import LocalTurnLog


async def registered(log: LocalTurnLog) -> None:
    for _ in range(1000):
        if log.watching("s1"):
            return
        await asyncio.sleep(0)
    raise AssertionError("the watch never registered")


def info(turn_id: str) -> TurnInfo:
    return TurnInfo("s1", turn_id, TurnKind.NARRATION, "I wait")


async def run_turn(log: LocalTurnLog, turn_id: str, words: int) -> None:
    writer = await log.start(info(turn_id), 10)
    writer.buffer.add(TurnStarted(turn_id, "p", "m"))
    for i in range(words):
        writer.buffer.add_text(f"w{i} ", sealed=True)
    writer.buffer.add(TurnCompleted(FinishReason.STOP, Usage(), writer.buffer.text))
    writer.buffer.end()
    await writer.finish()


async def test_turns_arrive_whole_and_in_order_even_after_they_ended() -> None:
    log = LocalTurnLog(keep_s=5)
    events = watch_session(log, "s1", buffer=100)
    got: list[tuple[str, object]] = []
    async with aclosing(events):
        reader = asyncio.create_task(anext(events))
        await registered(log)  # the watch is registered
        await run_turn(log, "t1", 3)
        await run_turn(log, "t2", 2)  # ends before the watcher even reads t1
        first = await reader
        got.append((first.info.turn_id, first.event))
        while len(got) < 5 + 4:
            item = await anext(events)
            got.append((item.info.turn_id, item.event))
    assert [t for t, _ in got] == ["t1"] * 5 + ["t2"] * 4
    assert [type(e).__name__ for _, e in got[:5]] == [
        "TurnStarted",
        "TextDelta",
        "TextDelta",
        "TextDelta",
        "TurnCompleted",
    ]
    assert [e.seq for _, e in got if isinstance(e, TextDelta)] == [1, 2, 3, 1, 2]


async def test_a_watcher_further_behind_than_its_buffer_is_dropped() -> None:
    log = LocalTurnLog(keep_s=5)
    events = watch_session(log, "s1", buffer=8)
    async with aclosing(events):
        reader = asyncio.create_task(anext(events))
        await registered(log)
        await run_turn(log, "t1", 40)  # the watcher reads nothing meanwhile
        await asyncio.sleep(0.01)
        received = [await reader]
        with pytest.raises(Overloaded, match="fell more than 8 events behind"):
            while True:
                received.append(await anext(events))
    assert 1 <= len(received) <= 9


async def test_a_watcher_keeping_up_is_never_dropped() -> None:
    log = LocalTurnLog(keep_s=5)
    events = watch_session(log, "s1", buffer=4)
    count = 0
    async with aclosing(events):
        reader = asyncio.create_task(anext(events))
        await registered(log)
        writer = await log.start(info("t1"), 10)
        writer.buffer.add(TurnStarted("t1", "p", "m"))
        await reader
        for i in range(100):  # one word at a time, read as it comes
            writer.buffer.add_text(f"w{i} ", sealed=True)
            item = await anext(events)
            assert isinstance(item.event, TextDelta)
            count += 1
        writer.buffer.end()
        await writer.finish()
    assert count == 100
