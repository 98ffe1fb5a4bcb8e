"""Two servers in this process sharing Redis and PostgreSQL: any turn through any server."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2, turn_pb2
from narrator_server.settings import UpstreamSettings
from narrator_server.testing.replies import Reply
from narrator_server.turnlog.redis import RedisTurnLog

from ..support import (
    add_key,
    assert_stream_order,
    bearer,
    collect,
    details,
    new_session,
    serve,
    settings,
)
from .rpcs import REQUESTS
from .test_resume import narrate, read_deltas

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI
    from narrator_server.testing.redis_server import RedisServer

    from ..support import Running


@pytest.fixture
def shared(redis_url: str, postgres_url: str) -> dict[str, str]:
    return {"redis_url": redis_url, "database_url": postgres_url}


@contextlib.asynccontextmanager
async def two_servers(
    tmp_path: Path, shared: dict[str, str], **overrides: Any
) -> AsyncIterator[tuple[Running, Running]]:
    base: dict[str, Any] = {"telemetry": False, "offline_pace_ms": 15, "lease_s": 0.6,
                            "redis_timeout_s": 0.3}  # fmt: skip
    config = settings(tmp_path, **(base | shared | overrides))
    async with serve(config) as a, serve(config) as b:
        yield a, b


async def stored(s: Running, session_id: str) -> session_pb2.Turn:
    session = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
    assert session.turn_count == 1
    return session.recent_turns[0]


async def test_a_session_made_on_one_server_is_narrated_on_another(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    async with two_servers(tmp_path, shared, offline_pace_ms=0) as (a, b):
        session_id = await new_session(a.stub)
        got = await collect(b.stub.Narrate(narrate(session_id)))
        turn = await stored(a, session_id)
    assert_stream_order(got)
    assert turn.text == got.text


async def test_a_turn_resumed_on_another_server_continues_without_a_second_request(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    async with two_servers(tmp_path, shared) as (a, b):
        session_id = await new_session(a.stub)
        first = a.stub.Narrate(narrate(session_id, "turn-1"))
        before = await read_deltas(first, 3)
        first.cancel()
        again = await collect(b.stub.Narrate(narrate(session_id, "turn-1", after=3)))
        turn = await stored(b, session_id)
    assert again.of("started")[0].resumed
    assert next(d.seq for d in again.of("delta")) == 4
    text = "".join(m.delta.text for m in before[1:]) + again.text
    assert text == again.of("completed")[0].text == turn.text
    assert turn.status == session_pb2.TURN_STATUS_COMPLETED
    assert not turn.recoveries  # followed, not taken over: its server was alive


async def test_a_turn_whose_server_lost_its_lease_is_continued_by_the_taker_for_everyone(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    async with two_servers(tmp_path, shared, offline_pace_ms=100) as (a, b):
        session_id = await new_session(a.stub)
        original = a.stub.Narrate(narrate(session_id, "turn-1"))
        head = await read_deltas(original, 2)
        log = a.app.turn_log
        assert isinstance(log, RedisTurnLog)
        for task in log._tasks:  # server A stalls: no heartbeat, no writes
            task.cancel()
        await asyncio.sleep(0.8)  # past the lease
        call = b.stub.Narrate(narrate(session_id, "turn-1", after=2))
        stream = aiter(call)
        head_b = [await anext(stream), await anext(stream)]  # B took the turn over and speaks
        producers = log._producers  # A wakes up: its writes are fenced
        producers.tasks = [asyncio.create_task(producers._flusher())]
        producers._wake.set()
        resumed, rest = await asyncio.gather(collect(stream), collect(original))
        resumed.messages[:0] = head_b
        resumed.events[:0] = ["started", "delta"]
        turn = await stored(b, session_id)
    completed = resumed.of("completed")[0]
    assert [r.reason for r in completed.recoveries] == [turn_pb2.RECOVERY_REASON_TAKEOVER]
    # The original caller, on the server that lost the turn, gets the taker's text too.
    original_text = "".join(m.delta.text for m in head[1:]) + rest.text
    assert original_text == rest.of("completed")[0].text == completed.text == turn.text
    seqs = [d.seq for d in rest.of("delta")]
    assert seqs == list(range(3, 3 + len(seqs)))
    assert turn.status == session_pb2.TURN_STATUS_COMPLETED
    assert list(turn.recoveries) == list(completed.recoveries)


async def test_a_watcher_on_one_server_sees_turns_narrated_on_another(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    async with two_servers(tmp_path, shared) as (a, b):
        session_id = await new_session(a.stub)
        watch = b.stub.WatchSession(pb.WatchSessionRequest(session_id=session_id))
        narrated = await collect(a.stub.Narrate(narrate(session_id)))
        seen = []
        async for message in watch:
            seen.append(message)
            if message.WhichOneof("event") == "completed":
                break
        watch.cancel()
    assert [m.WhichOneof("event") for m in seen] == narrated.events
    assert {m.turn_id for m in seen} == {narrated.of("started")[0].turn_id}
    assert "".join(m.delta.text for m in seen if m.WhichOneof("event") == "delta") == narrated.text
    assert seen[0].input == "I listen"


async def test_while_redis_is_down_new_turns_are_refused_and_running_ones_finish(
    tmp_path: Path, shared: dict[str, str], redis_instance: RedisServer
) -> None:
    async with two_servers(tmp_path, shared) as (a, b):
        session_id = await new_session(a.stub)
        running = a.stub.Narrate(narrate(session_id, "turn-1"))
        await read_deltas(running, 2)
        redis_instance.pause()
        try:
            rest = await collect(running)  # its caller is on this server: it goes on
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await collect(b.stub.Narrate(narrate(session_id)))
            with pytest.raises(grpc.aio.AioRpcError) as watch:
                await collect(b.stub.WatchSession(pb.WatchSessionRequest(session_id=session_id)))
            await b.app.check_health_now()
            health = health_pb2_grpc.HealthStub(b.channel)
            down = await health.Check(health_pb2.HealthCheckRequest(service=""))
        finally:
            redis_instance.resume()
        await b.app.check_health_now()
        up = await health.Check(health_pb2.HealthCheckRequest(service=""))
        after = await collect(b.stub.Narrate(narrate(session_id)))
    assert rest.events[-1] == "completed"
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "Redis" in str(refused.value.details())
    assert any(d.DESCRIPTOR.name == "RetryInfo" for d in details(refused.value))
    assert watch.value.code() is grpc.StatusCode.UNAVAILABLE
    assert down.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert up.status == health_pb2.HealthCheckResponse.SERVING
    assert after.events[-1] == "completed"


async def test_every_server_stops_calling_an_upstream_one_of_them_found_dead(
    tmp_path: Path, shared: dict[str, str], upstream: FakeOpenAI
) -> None:
    upstream.default = Reply(status=503)
    dead = (UpstreamSettings("openai", upstream.base_url, "fake-dm-1", "k"),)
    async with two_servers(
        tmp_path, shared, upstreams=dead, breaker_failures=1, retry_max_attempts=1,
        breaker_cooldown_s=60, offline_pace_ms=0,
    ) as (a, b):  # fmt: skip
        session_id = await new_session(a.stub)
        first = await collect(a.stub.Narrate(narrate(session_id)))  # fails over to offline
        calls = len(upstream.received)
        assert b.app._breakers is not None
        await b.app._breakers.sync_now()
        second = await collect(b.stub.Narrate(narrate(session_id)))
    assert calls == 1
    assert first.of("started")[0].provider == second.of("started")[0].provider == "offline"
    assert len(upstream.received) == calls  # B did not even try it


async def test_a_turn_its_caller_left_goes_on_while_another_server_still_follows_it(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    async with two_servers(tmp_path, shared, resume_window_s=0.3, offline_pace_ms=40) as (a, b):
        session_id = await new_session(a.stub)
        original = a.stub.Narrate(narrate(session_id, "turn-1"))
        await read_deltas(original, 1)
        elsewhere = b.stub.Narrate(narrate(session_id, "turn-1", after=1))
        await read_deltas(elsewhere, 2)
        original.cancel()  # its server's only follower left; the window passes
        rest = await collect(elsewhere)
        turn = await stored(a, session_id)
    assert rest.events[-1] == "completed"
    assert turn.status == session_pb2.TURN_STATUS_COMPLETED


async def test_a_quota_holds_across_servers(tmp_path: Path, shared: dict[str, str]) -> None:
    async with two_servers(tmp_path, shared, auth="required") as (a, b):
        token = await add_key(a.app, "studio", requests_per_minute=3)
        await b.app.refresh_keys()
        created = await a.stub.CreateSession(REQUESTS["CreateSession"](""), metadata=bearer(token))
        session_id = created.session.session_id
        get = pb.GetSessionRequest(session_id=session_id)
        await b.stub.GetSession(get, metadata=bearer(token))
        await a.stub.GetSession(get, metadata=bearer(token))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await b.stub.GetSession(get, metadata=bearer(token))
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "quota of 3 requests per minute" in str(refused.value.details())
