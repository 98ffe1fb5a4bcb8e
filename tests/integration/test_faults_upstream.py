"""Upstream answers that say whose fault a failure is: a rejection of the request's own
content goes back to its caller and never opens a breaker; a misconfigured upstream does
(issue 8, item 15). The turn's last recovery is labelled as such (item 18)."""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import turn_pb2
from narrator_server.testing.replies import Reply

from ..support import SCENE, collect, new_session, serve
from .test_upstream_turns import upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

BREAKER = {"breaker_failures": 3, "breaker_cooldown_s": 3600, "retry_max_attempts": 1}


def narrate(session_id: str) -> pb.NarrateRequest:
    return pb.NarrateRequest(session_id=session_id, action="I speak", scene=SCENE)


async def metrics(app: Any) -> dict[str, Any]:
    url = f"http://127.0.0.1:{app.telemetry.metrics_port}/metrics"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read().decode())
    return {f.name: f for f in text_string_to_metric_families(body)}


def breaker_state(families: dict[str, Any]) -> float:
    (sample,) = families["narrator_upstream_breaker_state"].samples
    return float(sample.value)


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_rejected_requests_go_back_to_their_caller_and_never_open_the_breaker(
    tmp_path: Path, upstream: FakeOpenAI, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    rejections = 10  # over three times the breaker's threshold
    upstream.script(*[Reply.error(status)] * rejections, Reply(text="The door opens."))
    config = upstream_settings(tmp_path, upstream, metrics_port=0, **BREAKER)
    async with serve(config) as s:
        session_id = await new_session(s.stub)
        for _ in range(rejections):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(s.stub.Narrate(narrate(session_id)))
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert f"HTTP {status}" in str(caught.value.details())
        families = await metrics(s.app)
        got = await collect(s.stub.Narrate(narrate(session_id)))
    assert breaker_state(families) == 0  # closed
    assert got.of("started")[0].provider == "openai"  # still in use, not skipped
    assert len(upstream.received) == rejections + 1  # no retries, no fallback
    assert "circuit breaker opened" not in caplog.text


async def test_a_misconfigured_upstream_opens_its_breaker(
    tmp_path: Path, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.script(*[Reply.error(401)] * 10)
    config = upstream_settings(tmp_path, upstream, metrics_port=0, fallback=False, **BREAKER)
    async with serve(config) as s:
        session_id = await new_session(s.stub)
        codes = []
        for _ in range(6):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(s.stub.Narrate(narrate(session_id)))
            codes.append(caught.value.code())
        families = await metrics(s.app)
    failed, refused = grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAVAILABLE
    assert codes == [failed] * 3 + [refused] * 3
    assert len(upstream.received) == 3  # then the open breaker skips it
    assert breaker_state(families) == 2  # open
    assert "circuit breaker opened" in caplog.text


async def test_the_last_chance_recovery_is_logged_and_counted_as_such(
    tmp_path: Path, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    upstream.script(
        Reply(text="The rope creaks and", drop_after=2),
        Reply(text="and then it snaps", drop_after=2),
    )
    config = upstream_settings(tmp_path, upstream, metrics_port=0, max_recoveries=2)
    async with serve(config) as s:
        got = await collect(s.stub.Narrate(narrate(await new_session(s.stub))))
        families = await metrics(s.app)
    reasons = [(r.provider, r.reason) for r in got.of("completed")[0].recoveries]
    assert reasons == [
        ("openai", turn_pb2.RECOVERY_REASON_UPSTREAM_FAILED),
        ("offline", turn_pb2.RECOVERY_REASON_LAST_CHANCE),
    ]
    assert "the turn's last recovery goes to the offline narrator" in caplog.text
    assert "no upstream could answer" not in caplog.text
    fallbacks = {
        x.labels["error_type"]: x.value
        for x in families["narrator_fallbacks"].samples
        if x.name.endswith("_total")
    }
    assert fallbacks == {"LastChance": 1.0}
    assert len(upstream.received) == 2
