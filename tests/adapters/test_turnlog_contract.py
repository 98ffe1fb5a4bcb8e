"""The turn log contract, for every adapter: in-process and Redis (a private redis-server)."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import aclosing
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import Overloaded, TurnAborted
from narrator_server.core.models import TextDelta, TurnKind, TurnStarted
from narrator_server.core.turnlog import SessionClosed, TurnClaimed, TurnInfo
from narrator_server.shared.redis_client import connect
from narrator_server.turnlog.local import LocalTurnLog
from narrator_server.turnlog.redis import RedisTurnLog

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from narrator_server.core.models import TurnEvent
    from narrator_server.core.turnlog import TurnLog


@pytest.fixture(params=["local", "redis"])
async def turn_log(request: pytest.FixtureRequest) -> AsyncIterator[TurnLog]:
    if request.param == "local":
        yield LocalTurnLog()
        return
    client = connect(request.getfixturevalue("redis_url"), timeout=1.0)
    log = RedisTurnLog(client, lease=1.0, resume_window=2.0)
    try:
        yield log
    finally:
        await log.close()
        await client.aclose()


def info(turn_id: str = "t1", session_id: str = "s1") -> TurnInfo:
    return TurnInfo(session_id, turn_id, TurnKind.NARRATION, "I look around")


async def take(stream: AsyncIterator[TurnEvent], n: int) -> list[TurnEvent]:
    out = []
    async for event in stream:
        out.append(event)
        if len(out) == n:
            break
    return out


async def test_followers_get_every_event_in_order_then_the_end(turn_log: TurnLog) -> None:
    writer = await turn_log.start(info(), 10)
    follower = turn_log.follow("s1", "t1")
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    writer.buffer.add_text("Once ")
    first = await take(follower, 2)
    writer.buffer.add_text("upon ")
    writer.buffer.add_text("a time.")
    writer.buffer.end()
    await writer.finish()
    rest = [e async for e in follower]
    events = first + rest
    assert events[0] == TurnStarted("t1", "p", "m")
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == "Once upon a time."
    assert [d.seq for d in deltas] == list(range(1, len(deltas) + 1))
    assert turn_log.running == 0


async def test_a_follower_gets_the_error_the_turn_ended_with(turn_log: TurnLog) -> None:
    writer = await turn_log.start(info(), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    writer.buffer.add_text("Once")
    follower = turn_log.follow("s1", "t1")
    writer.buffer.end(TurnAborted("the turn was cancelled before it completed"))
    with pytest.raises(TurnAborted, match="cancelled"):
        async for _ in follower:
            pass
    await writer.finish()


async def test_a_turn_has_one_producer(turn_log: TurnLog) -> None:
    writer = await turn_log.start(info(), 10)
    with pytest.raises(TurnClaimed):
        await turn_log.start(info(), 10)
    other = await turn_log.start(info("t1", "s2"), 10)  # turn ids are scoped to their session
    for w in (writer, other):
        w.buffer.end()
        await w.finish()


async def test_running_turns_are_capped_and_finished_ones_free_their_slot(
    turn_log: TurnLog,
) -> None:
    first = await turn_log.start(info("a"), 2)
    second = await turn_log.start(info("b"), 2)
    assert turn_log.running == 2
    with pytest.raises(Overloaded, match="limit of 2 running turns"):
        await turn_log.start(info("c"), 2)
    first.buffer.end()
    await first.finish()
    third = await turn_log.start(info("c"), 2)
    for w in (second, third):
        w.buffer.end()
        await w.finish()


async def test_an_unknown_turn_cannot_be_followed(turn_log: TurnLog) -> None:
    with pytest.raises(LookupError):
        async for _ in turn_log.follow("s1", "nope"):
            pass
    assert not await turn_log.alive("s1", "nope")


async def test_alive_while_running(turn_log: TurnLog) -> None:
    writer = await turn_log.start(info(), 10)
    assert await turn_log.alive("s1", "t1")
    writer.buffer.end()
    await writer.finish()
    assert not await turn_log.alive("s1", "t1")


async def test_watchers_get_running_turns_new_turns_and_the_session_closing(
    turn_log: TurnLog,
) -> None:
    running = await turn_log.start(info("a"), 10)
    elsewhere = await turn_log.start(info("z", "other"), 10)
    async with aclosing(turn_log.watch("s1")) as watch:  # type: ignore[type-var]
        first = await anext(watch)
        assert first == info("a")
        later = await turn_log.start(info("b"), 10)
        assert await anext(watch) == info("b")
        await turn_log.close_session("s1")
        assert await anext(watch) == SessionClosed("s1")
    for w in (running, elsewhere, later):
        w.buffer.end()
        await w.finish()


async def test_a_check_passes_while_the_log_is_reachable(turn_log: TurnLog) -> None:
    await turn_log.check()


async def test_the_local_log_keeps_an_ended_turn_only_for_who_may_still_read_it() -> None:
    log = LocalTurnLog(keep_s=30)
    one_shot = dataclasses.replace(info("once"), resumable=False)
    watched = dataclasses.replace(one_shot, turn_id="watched")
    for turn in (info("resumable"), one_shot, watched):
        watch, learned = None, None
        if turn is watched:
            watch = log.watch("s1")
            learned = asyncio.ensure_future(anext(watch))
            await asyncio.sleep(0)  # the watcher is registered
        writer = await log.start(turn, 10)
        writer.buffer.add(DELTA)
        writer.buffer.end()
        await writer.finish()
        if watch is not None:
            assert await learned == watched  # it learned of the turn: kept for it to read
            await watch.aclose()
    for kept in ("resumable", "watched"):
        assert [e async for e in log.follow("s1", kept)] == [DELTA]
    with pytest.raises(LookupError):  # nobody may read it: replayed from the store instead
        log.follow("s1", "once")


DELTA = TextDelta(1, "The door opens.")
