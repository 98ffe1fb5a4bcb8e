"""The upstream as an operator and a player see it through a real server: loud
misconfiguration, who is speaking, honest usage, seamless and timely recoveries."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import turn_pb2
from narrator_server.settings import Settings
from narrator_server.testing.replies import Reply

from ..support import assert_stream_order, collect, new_session, serve, settings, text_through
from .test_upstream_turns import narrate, stored_turn, upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def upstream_health(channel: grpc.aio.Channel, name: str = "openai") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=f"upstream:{name}"))
    return int(reply.status)


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("upstream refuses")]


async def test_a_refused_key_is_an_error_log_and_a_health_detail_until_it_works(
    tmp_path: Path, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.script(Reply.error(401), Reply(text="It works again."))
    async with serve(upstream_settings(tmp_path, upstream, fallback=False)) as s:
        session_id = await new_session(s.stub)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(narrate(session_id)))
        await s.app.check_health_now()
        refused = await upstream_health(s.channel)
        await collect(s.stub.Narrate(narrate(session_id)))
        await s.app.check_health_now()
        healed = await upstream_health(s.channel)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    (record,) = refusals(caplog)
    assert record.levelno == logging.ERROR
    fields = vars(record)
    assert (fields["upstream"], fields["model"]) == ("openai", "fake-dm-1")
    assert fields["host"] == upstream.base_url.split("/")[2]
    assert "401" in fields["error"]
    assert (refused, healed) == (NOT_SERVING, SERVING)


async def test_a_bad_key_is_found_at_start_before_any_turn(
    tmp_path: Path, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.models_status = 403
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        for _ in range(1000):  # the probe runs in the background at start
            if refusals(caplog):
                break
            await asyncio.sleep(0.01)
        await s.app.check_health_now()
        status = await upstream_health(s.channel)
    assert refusals(caplog)[0].levelno == logging.ERROR
    assert status == NOT_SERVING
    assert upstream.received == []  # the probe is no chat request


async def test_the_provider_is_named_by_the_upstream_host(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    env = {"OPENAI_BASE_URL": upstream.base_url, "NARRATOR_MODEL": "local-model"}
    (configured,) = Settings.from_env(env).upstreams
    async with serve(settings(tmp_path, upstreams=(configured,))) as s:
        got = await collect(s.stub.Narrate(narrate(await new_session(s.stub))))
    started = got.of("started")[0]
    assert started.provider == upstream.base_url.split("/")[2]  # 127.0.0.1:PORT
    assert started.model == "local-model"


async def test_usage_is_estimated_never_zero_when_the_upstream_sends_none(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="Cold water bites at your ankles.", send_usage=False))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))
        turn = await stored_turn(s.stub, session_id)
    usage = got.of("completed")[0].usage
    assert usage.estimated
    assert usage.output_tokens == 6
    assert usage.input_tokens > 0
    assert (turn.usage.output_tokens, turn.usage.estimated) == (6, True)


async def test_a_restarted_answer_is_joined_without_the_repeat(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    answer = "The torches gutter as you step into the flooded crypt."
    upstream.script(Reply(text=answer, drop_after=3), Reply(text=answer))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))
        turn = await stored_turn(s.stub, session_id)
    assert_stream_order(got)
    assert got.text == answer
    assert turn.text == answer
    (recovery,) = got.of("completed")[0].recoveries
    assert text_through(got, recovery.after_seq) == "The torches gutter "


async def test_a_stalled_fast_stream_is_handed_over_at_its_own_pace(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    words = " ".join(f"w{i}" for i in range(30))
    upstream.script(Reply(text=words, pace=0.02, stall_after=10), Reply(text="rest."))
    config = upstream_settings(tmp_path, upstream, stall_floor_s=0.3, inter_token_timeout_s=15)
    async with serve(config) as s:
        got = await collect(s.stub.Narrate(narrate(await new_session(s.stub))))
    assert_stream_order(got)
    (recovery,) = got.of("completed")[0].recoveries
    assert recovery.reason == turn_pb2.RECOVERY_REASON_STALLED
    assert got.text.endswith("w9 rest.")


async def test_the_startup_log_lists_each_upstream(tmp_path: Path, upstream: FakeOpenAI) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NARRATOR_"))}
    environ |= {"NARRATOR_PORT": "0", "NARRATOR_METRICS_PORT": "-1",
                "NARRATOR_DATA_DIR": str(tmp_path), "OPENAI_BASE_URL": upstream.base_url,
                "NARRATOR_MODEL": "local-model"}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "narrator_server", env=environ,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        serving = None
        while serving is None:
            line = await process.stderr.readline()
            assert line, "the server stopped before it logged 'serving'"
            entry = json.loads(line)
            serving = entry if entry["message"] == "serving" else None
    finally:
        process.terminate()
        await process.wait()
    host = upstream.base_url.split("/")[2]
    assert serving["upstreams"] == [{"name": host, "host": host, "model": "local-model"}]


async def test_closing_the_call_closes_the_upstream_request(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="word " * 300, pace=0.02))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        call = s.stub.Narrate(pb.NarrateRequest(session_id=await new_session(s.stub), action="x"))
        async for message in call:
            if message.WhichOneof("event") == "delta":
                break
        call.cancel()
        await upstream.received[0].client_disconnected.wait()
    got = upstream.received[0]
    assert got.disconnected_at is not None  # seen as a closed connection, mid-answer
    assert got.chunks_sent < 300
