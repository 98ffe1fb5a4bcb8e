"""The Redis turn log across servers: two or three logs on one private redis-server, as
separate replicas would be (each its own client)."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import CoordinationUnavailable, Overloaded
from narrator_server.core.models import TextDelta, TurnKind, TurnStarted
from narrator_server.core.turnlog import ProducerLost, SessionClosed, TurnInfo
from narrator_server.shared.redis_client import connect
from narrator_server.turnlog.redis import RedisTurnLog

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from narrator_server.core.models import TurnEvent
    from narrator_server.testing.redis_server import RedisServer

    Replica = Callable[..., Awaitable[RedisTurnLog]]

LEASE = 0.6


@pytest.fixture
async def replica(redis_url: str) -> AsyncIterator[Replica]:
    """Makes turn logs ("replicas") on the test's Redis; closes them afterwards."""
    opened: list[tuple[RedisTurnLog, object]] = []

    async def make(lease: float = LEASE, timeout: float = 1.0) -> RedisTurnLog:
        client = connect(redis_url, timeout=timeout)
        log = RedisTurnLog(client, lease=lease, resume_window=1.0)
        opened.append((log, client))
        return log

    yield make
    for log, client in opened:
        await log.close()
        await client.aclose()  # type: ignore[attr-defined]


def info(turn_id: str = "t1", session_id: str = "s1", resumable: bool = True) -> TurnInfo:
    return TurnInfo(session_id, turn_id, TurnKind.NARRATION, "I open the door", resumable)


def crash(log: RedisTurnLog) -> None:
    """Its background work stops as if its process died (no release, no more heartbeats)."""
    for task in log._tasks:
        task.cancel()


def stop_heartbeats(log: RedisTurnLog) -> None:
    log._tasks[1].cancel()


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Polls another system's state (Redis) until it holds."""
    while not await condition():  # noqa: ASYNC110
        await asyncio.sleep(0.02)


async def collect(stream: AsyncIterator[TurnEvent], into: list[TurnEvent]) -> None:
    async for event in stream:
        into.append(event)


async def test_another_server_follows_a_turn_live_with_the_same_deltas(replica: Replica) -> None:
    a, b = await replica(), await replica()
    writer = await a.start(info(), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    seen: list[TurnEvent] = []
    reader = asyncio.create_task(collect(b.follow("s1", "t1"), seen))
    for word in ["The ", "door ", "creaks ", "open."]:
        writer.buffer.add_text(word)
        await asyncio.sleep(0.01)
    writer.buffer.end()
    await writer.finish()
    await reader
    assert seen == writer.buffer.events  # same deltas, same seq, however they coalesced
    text = "".join(e.text for e in seen if isinstance(e, TextDelta))
    assert text == "The door creaks open."


async def test_the_running_turn_cap_holds_across_servers(replica: Replica) -> None:
    a, b = await replica(), await replica()
    first = await a.start(info("a"), 1)
    with pytest.raises(Overloaded, match="deployment is at its limit of 1"):
        await b.start(info("b"), 1)
    first.buffer.end()
    await first.finish()
    second = await b.start(info("b"), 1)
    second.buffer.end()
    await second.finish()


async def test_a_dead_servers_slot_is_freed_when_its_lease_expires(replica: Replica) -> None:
    a, b = await replica(), await replica()
    await a.start(info("a"), 1)
    crash(a)
    await asyncio.sleep(LEASE)
    writer = await b.start(info("b"), 1)
    writer.buffer.end()
    await writer.finish()


async def test_a_lost_producer_is_reported_and_its_turn_taken_over_once(replica: Replica) -> None:
    a, b, c = await replica(), await replica(), await replica()
    writer = await a.start(info(), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    writer.buffer.add_text("The door ")
    await until(lambda: asyncio.sleep(0, writer.buffer.visible == 2))
    crash(a)
    with pytest.raises(ProducerLost) as lost:
        async for _ in b.follow("s1", "t1"):
            pass
    assert lost.value.events == (TurnStarted("t1", "p", "m"), TextDelta(1, "The door "))
    taken = await b.take_over("s1", "t1")
    assert taken is not None
    assert await c.take_over("s1", "t1") is None  # one taker only
    assert taken.buffer.seq == 1
    assert taken.buffer.text == "The door "
    seen: list[TurnEvent] = []
    reader = asyncio.create_task(collect(c.follow("s1", "t1"), seen))
    taken.buffer.add_text("creaks.")
    taken.buffer.end()
    await taken.finish()
    await reader
    assert [e for e in seen if isinstance(e, TextDelta)] == [
        TextDelta(1, "The door "),
        TextDelta(2, "creaks."),
    ]


async def test_a_producer_that_lost_its_lease_cannot_append(replica: Replica) -> None:
    a, b = await replica(), await replica()
    writer = await a.start(info(), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    follower = a.follow("s1", "t1")
    assert await anext(follower) == TurnStarted("t1", "p", "m")
    stop_heartbeats(a)  # a stalled server: its lease runs out, its writes are fenced
    await asyncio.sleep(LEASE + 0.1)
    taken = await b.take_over("s1", "t1")
    assert taken is not None
    writer.buffer.add_text("a stale word")
    with pytest.raises(ProducerLost):  # the local follower is sent to the new producer
        await anext(follower)
    assert writer.lost
    taken.buffer.add_text("the true word")
    taken.buffer.end()
    await taken.finish()
    events = [e async for e in b.follow("s1", "t1")]
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta(1, "the true word")]


async def test_a_stalled_producer_learns_before_storing_that_its_turn_was_taken(
    replica: Replica,
) -> None:
    a, b = await replica(), await replica()
    writer = await a.start(info(), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    assert await writer.held()  # its own lease, renewed
    stop_heartbeats(a)  # a stalled server: its lease runs out
    await asyncio.sleep(LEASE + 0.1)
    taken = await b.take_over("s1", "t1")
    assert taken is not None
    assert await writer.held() is False  # so it does not store the turn: the taker does
    assert writer.lost
    assert await taken.held()


async def test_a_lease_that_lapsed_untaken_is_held_again(replica: Replica) -> None:
    a = await replica()
    writer = await a.start(info(), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    stop_heartbeats(a)
    await asyncio.sleep(LEASE + 0.1)
    assert await writer.held()  # nobody took it: the turn is still this server's to store
    assert not writer.lost


async def test_a_turn_without_a_client_turn_id_is_never_taken_over(replica: Replica) -> None:
    a, b = await replica(), await replica()
    writer = await a.start(info(resumable=False), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    await until(lambda: asyncio.sleep(0, writer.buffer.visible == 1))
    crash(a)
    await asyncio.sleep(LEASE)
    assert await b.take_over("s1", "t1") is None


async def test_followers_elsewhere_keep_the_turn_from_being_reaped(replica: Replica) -> None:
    a, b = await replica(), await replica()
    writer = await a.start(info(), 10)
    assert not await writer.followed_elsewhere()
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    async with aclosing(b.follow("s1", "t1")) as follower:  # type: ignore[type-var]
        await anext(follower)
        await until(writer.followed_elsewhere)
    await until(lambda: _not(writer.followed_elsewhere()))
    writer.buffer.end()
    await writer.finish()


async def _not(value: Awaitable[bool]) -> bool:
    return not await value


async def test_a_lease_that_expired_during_an_outage_is_taken_back(
    replica: Replica, redis_instance: RedisServer
) -> None:
    a = await replica(timeout=0.3)
    writer = await a.start(info(), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    redis_instance.pause()
    try:
        writer.buffer.add_text("still ")
        await asyncio.sleep(LEASE + 0.4)  # the lease ran out while Redis did not answer
    finally:
        redis_instance.resume()
    writer.buffer.add_text("here")
    await until(lambda: a.alive("s1", "t1"))
    await asyncio.sleep(LEASE)
    assert not writer.lost
    writer.buffer.end()
    await writer.finish()
    client = connect(redis_instance.url, 1.0)
    try:
        assert not await client.exists("narrator:lease:s1:t1")  # released at its end
    finally:
        await client.aclose()


async def test_without_redis_new_turns_fail_fast_and_running_ones_go_on_locally(
    replica: Replica, redis_instance: RedisServer
) -> None:
    a = await replica(timeout=0.3)
    writer = await a.start(info(), 10)
    writer.buffer.add(TurnStarted("t1", "p", "m"))
    follower = a.follow("s1", "t1")
    assert await anext(follower) == TurnStarted("t1", "p", "m")
    redis_instance.pause()
    try:
        with pytest.raises(CoordinationUnavailable):
            await a.start(info("t2"), 10)
        with pytest.raises(CoordinationUnavailable):
            await a.check()
        with pytest.raises(CoordinationUnavailable):
            async for _ in a.follow("s1", "elsewhere"):
                pass
        writer.buffer.add_text("The show goes on.")  # shown once the write failed
        assert await anext(follower) == TextDelta(1, "The show goes on.")
        writer.buffer.end()
        await writer.finish()
        assert [e async for e in follower] == []
    finally:
        redis_instance.resume()
    await a.check()


async def test_watchers_on_another_server_see_its_turns_and_the_session_closing(
    replica: Replica,
) -> None:
    a, b = await replica(), await replica()
    running = await a.start(info("first"), 10)
    async with aclosing(b.watch("s1")) as watch:  # type: ignore[type-var]
        assert (await anext(watch)).turn_id == "first"
        later = await a.start(info("second"), 10)
        assert (await anext(watch)).turn_id == "second"
        await a.close_session("s1")
        assert await anext(watch) == SessionClosed("s1")
    for w in (running, later):
        w.buffer.end()
        await w.finish()


async def test_a_turn_taken_over_is_announced_to_watchers_once(replica: Replica) -> None:
    a, b = await replica(), await replica()
    async with aclosing(b.watch("s1")) as watch:  # type: ignore[type-var]
        writer = await a.start(info(), 10)
        assert (await anext(watch)).turn_id == "t1"
        writer.buffer.add(TurnStarted("t1", "p", "m"))
        await until(lambda: asyncio.sleep(0, writer.buffer.visible == 1))
        crash(a)
        await asyncio.sleep(LEASE)
        taken = await b.take_over("s1", "t1")
        assert taken is not None
        other = await b.start(info("t2"), 10)
        assert (await anext(watch)).turn_id == "t2"  # not t1 again
    for w in (taken, other):
        w.buffer.end()
        await w.finish()


async def test_the_stream_of_a_turn_expires_after_the_resume_window(
    replica: Replica, redis_instance: RedisServer
) -> None:
    a = await replica()
    writer = await a.start(info(), 10)
    writer.buffer.end()
    await writer.finish()
    client = connect(redis_instance.url, 1.0)
    try:
        ttl = await client.pttl("narrator:events:s1:t1")
        assert 0 < ttl <= (1.0 + LEASE) * 1000
    finally:
        await client.aclose()
