"""Quotas through a real server: each limit refuses with QuotaFailure and RetryInfo, token
reservations settle however a turn ends, and parallel turns cannot overshoot a budget."""

from __future__ import annotations

import asyncio
import calendar
import time
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.rpc import error_details_pb2

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2
from narrator_server.quotas.local import LocalQuotaCounter
from narrator_server.testing.replies import Reply

from ..support import SCENE, add_key, bearer, collect, details, key_id, serve
from .rpcs import REQUESTS, call
from .test_upstream_turns import upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

    from ..support import Metadata, Running

FROZEN = 1_000_000.0  # the counter's clock stands still: nothing drains during a test


def frozen_counter() -> LocalQuotaCounter:
    return LocalQuotaCounter(clock=lambda: FROZEN)


def quota_error(error: grpc.aio.AioRpcError) -> tuple[list[tuple[str, str, int]], float]:
    """(limit, subject, value) of each violation, and the RetryInfo delay in seconds."""
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    found = details(error)
    failure = next(d for d in found if isinstance(d, error_details_pb2.QuotaFailure))
    retry = next(d for d in found if isinstance(d, error_details_pb2.RetryInfo))
    violations = [(v.quota_id, v.subject, v.quota_value) for v in failure.violations]
    return violations, retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9


async def create(s: Running, metadata: Metadata) -> str:
    response = await s.stub.CreateSession(REQUESTS["CreateSession"](""), metadata=metadata)
    return str(response.session.session_id)


async def narrate(s: Running, session_id: str, metadata: Metadata) -> Any:
    request = pb.NarrateRequest(session_id=session_id, action="I listen", scene=SCENE)
    return await collect(s.stub.Narrate(request, metadata=metadata))


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_requests_per_minute_of_a_key(tmp_path: Path, upstream: FakeOpenAI) -> None:
    config = upstream_settings(tmp_path, upstream, auth="required")
    async with serve(config, quota_counter=frozen_counter()) as s:
        token = await add_key(s.app, "studio", requests_per_minute=2)
        session_id = await create(s, bearer(token))
        await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id), metadata=bearer(token))
        error = await refused(
            s.stub.GetSession(pb.GetSessionRequest(session_id=session_id), metadata=bearer(token))
        )
        other = await add_key(s.app, "other-studio", requests_per_minute=2)
        await create(s, bearer(other))  # another key has its own budget
    violations, retry_after = quota_error(error)
    assert violations == [("requests_per_minute", f"key:{key_id(token)}", 2)]
    assert retry_after == pytest.approx(30.0)  # 2 a minute: one frees every 30 s
    assert "key:" in error.details()
    assert token.split("_", 2)[2] not in error.details()  # the secret (it may hold "_")


async def test_requests_per_minute_of_a_player_else_of_the_session(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    config = upstream_settings(tmp_path, upstream, auth="required")
    async with serve(config, quota_counter=frozen_counter()) as s:
        token = await add_key(s.app, "studio", player_requests_per_minute=1)
        await create(s, bearer(token, "alice"))
        alice = await refused(create(s, bearer(token, "alice")))
        await create(s, bearer(token, "bob"))
        # No player named: each session is its own player.
        first, second = await create(s, bearer(token)), await create(s, bearer(token))
        await call(s.stub, "GetSession", first, bearer(token))
        session = await refused(
            s.stub.GetSession(pb.GetSessionRequest(session_id=first), metadata=bearer(token))
        )
        assert (await call(s.stub, "GetSession", second, bearer(token))).code is grpc.StatusCode.OK
    assert quota_error(alice) == ([("player_requests_per_minute", "player:alice", 1)], 60.0)
    assert quota_error(session)[0] == [("player_requests_per_minute", f"session:{first}", 1)]


async def test_output_tokens_per_minute_reserve_max_tokens_and_settle(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.default = Reply(text="The water rises.", usage=(30, 40))
    config = upstream_settings(tmp_path, upstream, auth="required", max_tokens=100)
    async with serve(config, quota_counter=frozen_counter()) as s:
        token = await add_key(s.app, "studio", tokens_per_minute=150)
        session_id = await create(s, bearer(token))
        await narrate(s, session_id, bearer(token))  # holds 100, settles to 40
        await narrate(s, session_id, bearer(token))  # 40 + 100 fits 150; settles to 80
        error = await refused(narrate(s, session_id, bearer(token)))  # 80 + 100 does not
        session = await s.stub.GetSession(
            pb.GetSessionRequest(session_id=session_id), metadata=bearer(token)
        )
    assert quota_error(error) == (
        [("tokens_per_minute", f"key:{key_id(token)}", 150)],
        pytest.approx((80 + 100 - 150) * 60 / 150),
    )
    assert len(upstream.received) == 2  # the refused turn never reached the upstream
    assert session.session.turn_count == 2  # and stored nothing


async def test_tokens_per_day_count_the_prompt_and_free_at_utc_midnight(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.default = Reply(text="The water rises.", usage=(900, 50))
    config = upstream_settings(tmp_path, upstream, auth="required", max_tokens=100)
    async with serve(config) as s:
        token = await add_key(s.app, "studio", tokens_per_day=1000)
        session_id = await create(s, bearer(token))
        await narrate(s, session_id, bearer(token))
        error = await refused(narrate(s, session_id, bearer(token)))
        now = time.time()
    day = time.gmtime(now)
    midnight = calendar.timegm((day.tm_year, day.tm_mon, day.tm_mday, 0, 0, 0)) + 86_400
    violations, retry_after = quota_error(error)
    assert violations == [("tokens_per_day", f"key:{key_id(token)}", 1000)]
    assert midnight - now <= retry_after <= midnight - now + 60


async def test_a_reservation_is_released_however_the_turn_ends(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    # Room for one turn's max_tokens at a time: a reservation left behind refuses the next.
    config = upstream_settings(tmp_path, upstream, auth="required", max_tokens=100, fallback=False)
    async with serve(config, quota_counter=frozen_counter()) as s:
        token = bearer(await add_key(s.app, "studio", tokens_per_minute=100))
        session_id = await create(s, token)
        upstream.script(Reply.error(400))  # the upstream rejects the request: a failed turn
        failed = await refused(narrate(s, session_id, token))
        assert failed.code() is grpc.StatusCode.INVALID_ARGUMENT
        upstream.script(Reply(text=" ".join(["word"] * 200), pace=0.01))
        request = pb.NarrateRequest(session_id=session_id, action="I run", scene=SCENE)
        cancelled = s.stub.Narrate(request, metadata=token)
        async for message in cancelled:
            if message.WhichOneof("event") == "delta":
                break
        cancelled.cancel()  # the player skips: the turn is cancelled mid-stream
        await ended(s, session_id, token)  # stored once the server saw the cancel
        upstream.default = Reply(text="It ends well.", usage=(10, 100))
        completed = await narrate(s, session_id, token)
        assert completed.events[-1] == "completed"


async def ended(s: Running, session_id: str, metadata: Metadata) -> None:
    """Waits until the session's last turn is stored as ended (its quota is settled first)."""
    request = pb.GetSessionRequest(session_id=session_id)
    while True:
        session = (await s.stub.GetSession(request, metadata=metadata)).session
        if session.recent_turns[-1].status != session_pb2.TURN_STATUS_RUNNING:
            return
        await asyncio.sleep(0.01)


async def test_parallel_turns_cannot_overshoot_a_token_budget(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    budget, max_tokens, turns = 1000, 100, 20
    upstream.default = Reply(text=" ".join(["word"] * 20), pace=0.005, usage=(20, max_tokens))
    config = upstream_settings(tmp_path, upstream, auth="required", max_tokens=max_tokens)
    async with serve(config, quota_counter=frozen_counter()) as s:
        token = bearer(await add_key(s.app, "studio", tokens_per_minute=budget))
        session_id = await create(s, token)
        outcomes = await asyncio.gather(
            *(narrate(s, session_id, token) for _ in range(turns)), return_exceptions=True
        )
        session = await s.stub.GetSession(
            pb.GetSessionRequest(session_id=session_id), metadata=token
        )
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    refusals = [o for o in outcomes if isinstance(o, BaseException)]
    spent = sum(turn.of("completed")[0].usage.output_tokens for turn in done)
    assert spent <= budget + max_tokens
    assert len(done) == budget // max_tokens
    assert all(quota_error(e)[0][0][0] == "tokens_per_minute" for e in refusals)  # type: ignore[arg-type]
    assert session.session.turn_count == len(done)
    assert len(upstream.received) == len(done)
