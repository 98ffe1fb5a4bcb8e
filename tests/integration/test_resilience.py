"""The fault catalogue before and after the first delta, for Narrate and Decide; malformed
upstream data; circuit breakers; deadlines as budgets."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import turn_pb2
from narrator_server.settings import UpstreamSettings
from narrator_server.testing.fake_openai import FakeOpenAI
from narrator_server.testing.replies import Reply

from ..support import SCENE, assert_stream_order, collect, details, new_session, serve, text_through
from .test_upstream_turns import OPTIONS, upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.settings import Settings

STALLS = {"first_token_timeout_s": 0.5, "inter_token_timeout_s": 0.3}
TEXT = "The lantern swings and the shadows lurch."
CONTINUED = "shadows lurch, and something answers."


def narrate_request(session_id: str) -> pb.NarrateRequest:
    return pb.NarrateRequest(session_id=session_id, action="I lift the lantern", scene=SCENE)


def decide_request(session_id: str) -> pb.DecideRequest:
    return pb.DecideRequest(
        session_id=session_id, question="What does Grub do?", options=OPTIONS, scene=SCENE
    )


def decision(rationale: str = "Grub lunges.") -> Reply:
    return Reply.decision("attack", {"target": "Ash"}, rationale)


BEFORE_FIRST_DELTA = {
    "429 with Retry-After": Reply.error(429, retry_after_ms=5),
    "500": Reply.error(500),
    "503": Reply.error(503),
    "drop before first byte": Reply(drop_before_response=True),
    "drop before first chunk": Reply(drop_after=0),
    "stall before first chunk": Reply(stall_after=0),
    "first byte later than the first-token timeout": Reply(first_byte_delay=1.5),
    "malformed first chunk": Reply(malformed_after=0),
}
AFTER_FIRST_DELTA = {
    "drop mid stream": {"drop_after": 2},
    "stall mid stream": {"stall_after": 2},
    "stall right after the first chunk": {"stall_after": 1},
    "malformed chunk mid stream": {"malformed_after": 2},
}


def config(tmp_path: Path, upstream: FakeOpenAI, **overrides: Any) -> Settings:
    return upstream_settings(tmp_path, upstream, **(STALLS | overrides))


@pytest.mark.parametrize("fault", BEFORE_FIRST_DELTA)
async def test_narrate_fault_before_the_first_delta_is_retried(
    tmp_path: Path, upstream: FakeOpenAI, fault: str
) -> None:
    upstream.script(BEFORE_FIRST_DELTA[fault], Reply(text=TEXT))
    async with serve(config(tmp_path, upstream)) as s:
        got = await collect(s.stub.Narrate(narrate_request(await new_session(s.stub))))
    assert_stream_order(got)
    assert got.text == TEXT
    assert got.of("started")[0].provider == "openai"
    assert not got.of("completed")[0].recoveries
    assert len(upstream.received) == 2


@pytest.mark.parametrize("fault", BEFORE_FIRST_DELTA)
async def test_decide_fault_before_the_first_delta_is_retried(
    tmp_path: Path, upstream: FakeOpenAI, fault: str
) -> None:
    upstream.script(BEFORE_FIRST_DELTA[fault], decision())
    async with serve(config(tmp_path, upstream)) as s:
        got = await collect(s.stub.Decide(decide_request(await new_session(s.stub))))
    assert_stream_order(got, decision=True)
    assert got.text == "Grub lunges."
    assert got.of("decision")[0].source == turn_pb2.DECISION_SOURCE_MODEL
    assert len(upstream.received) == 2


@pytest.mark.parametrize("fault", AFTER_FIRST_DELTA)
async def test_narrate_fault_after_the_first_delta_is_recovered(
    tmp_path: Path, upstream: FakeOpenAI, fault: str
) -> None:
    upstream.script(Reply(text=TEXT, **AFTER_FIRST_DELTA[fault]), Reply(text=CONTINUED))
    async with serve(config(tmp_path, upstream)) as s:
        got = await collect(s.stub.Narrate(narrate_request(await new_session(s.stub))))
    (at,) = AFTER_FIRST_DELTA[fault].values()
    sent = "".join(TEXT.split(" ")[i] + " " for i in range(at))
    assert_stream_order(got)
    assert got.text == sent + CONTINUED
    (recovery,) = got.of("completed")[0].recoveries
    assert recovery.provider == "openai"
    assert text_through(got, recovery.after_seq) == sent  # deltas may carry several tokens
    assert upstream.received[1].body["messages"][-2]["content"] == sent


@pytest.mark.parametrize("fault", AFTER_FIRST_DELTA)
async def test_decide_fault_after_the_first_delta_is_recovered(
    tmp_path: Path, upstream: FakeOpenAI, fault: str
) -> None:
    broken = decision("Grub lunges with his spear.")
    for key, value in AFTER_FIRST_DELTA[fault].items():
        setattr(broken, key, value + 2)  # after the rationale started streaming
    upstream.script(broken, decision("ignored"))
    async with serve(config(tmp_path, upstream)) as s:
        got = await collect(s.stub.Decide(decide_request(await new_session(s.stub))))
    assert_stream_order(got, decision=True)
    assert got.text
    assert "Grub lunges with his spear.".startswith(got.text)
    made = got.of("decision")[0]
    assert (made.option_id, made.source) == ("attack", turn_pb2.DECISION_SOURCE_REPAIRED)
    (recovery,) = got.of("completed")[0].recoveries
    assert recovery.after_seq == len(got.of("delta"))


MALFORMED_NARRATION = {
    "refusal": (Reply(text="I can't help with that.", as_refusal=True), "", "CONTENT_FILTER"),
    "content_filter": (
        Reply(text="The blade", finish_reason="content_filter"),
        "The blade",
        "CONTENT_FILTER",
    ),
    "length": (Reply(text="A long tale", finish_reason="length"), "A long tale", "LENGTH"),
    "missing fields": (
        Reply(
            raw_events=[
                '{"id": "x"}',
                '{"choices": []}',
                '{"choices": [{"index": 0}]}',
                '{"choices": [{"index": 0, "delta": {"content": "Still here."}}]}',
                '{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}',
            ]
        ),
        "Still here.",
        "STOP",
    ),
}


@pytest.mark.parametrize("case", MALFORMED_NARRATION)
async def test_malformed_narration_outcomes(
    tmp_path: Path, upstream: FakeOpenAI, case: str
) -> None:
    reply, text, finish = MALFORMED_NARRATION[case]
    upstream.script(reply)
    async with serve(config(tmp_path, upstream)) as s:
        got = await collect(s.stub.Narrate(narrate_request(await new_session(s.stub))))
    assert_stream_order(got)
    assert got.text == text
    assert (
        turn_pb2.FinishReason.Name(got.of("completed")[0].finish_reason)
        == f"FINISH_REASON_{finish}"
    )
    assert len(upstream.received) == 1


MALFORMED_DECISION = {
    "tool arguments not JSON": Reply(
        text='{"rationale": "Hm", "decision": {oops', as_tool_call=True
    ),
    "truncated by length": Reply(text='{"rationale": "Grub thinks', finish_reason="length"),
    "refusal": Reply(text="No.", as_refusal=True),
}


@pytest.mark.parametrize("case", MALFORMED_DECISION)
async def test_malformed_decisions_are_repaired(
    tmp_path: Path, upstream: FakeOpenAI, case: str
) -> None:
    upstream.script(MALFORMED_DECISION[case], decision())
    async with serve(config(tmp_path, upstream)) as s:
        got = await collect(s.stub.Decide(decide_request(await new_session(s.stub))))
    assert_stream_order(got, decision=True)
    made = got.of("decision")[0]
    assert (made.option_id, made.source) == ("attack", turn_pb2.DECISION_SOURCE_REPAIRED)


async def test_an_open_breaker_is_skipped_without_a_request(tmp_path: Path) -> None:
    async with FakeOpenAI() as a, FakeOpenAI(Reply(text="B speaks.")) as b:
        a.script(*[Reply.error(503)] * 10)
        chain = (
            UpstreamSettings("a", a.base_url, "model-a", "k"),
            UpstreamSettings("b", b.base_url, "model-b", "k"),
        )
        settings = upstream_settings(
            tmp_path, a, upstreams=chain, retry_max_attempts=1, breaker_failures=2,
            breaker_cooldown_s=3600,
        )  # fmt: skip
        async with serve(settings) as s:
            session_id = await new_session(s.stub)
            providers = []
            for _ in range(4):
                got = await collect(s.stub.Narrate(narrate_request(session_id)))
                providers.append(got.of("started")[0].provider)
    assert providers == ["b", "b", "b", "b"]
    assert len(a.received) == 2  # the breaker opened after two failures
    assert len(b.received) == 4


BUDGETS = {
    # fault, call deadline, retry waits, expected code, expected RetryInfo seconds
    "Retry-After beyond the server's limit": (Reply.error(429, retry_after=45), None, {}, "RESOURCE_EXHAUSTED", 45),
    "Retry-After beyond the deadline": (Reply.error(429, retry_after=8), 5, {}, "RESOURCE_EXHAUSTED", 8),
    "backoff beyond the deadline": (
        Reply.error(503), 5, {"retry_initial_wait_s": 30, "retry_max_wait_s": 30},
        "DEADLINE_EXCEEDED", None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("rpc", ["Narrate", "Decide"])
@pytest.mark.parametrize("case", BUDGETS)
async def test_a_wait_that_cannot_fit_fails_at_once(
    tmp_path: Path, upstream: FakeOpenAI, rpc: str, case: str
) -> None:
    fault, deadline, waits, code, retry_after = BUDGETS[case]
    upstream.script(fault)
    async with serve(config(tmp_path, upstream, fallback=False, **waits)) as s:
        session_id = await new_session(s.stub)
        request = narrate_request(session_id) if rpc == "Narrate" else decide_request(session_id)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(getattr(s.stub, rpc)(request, timeout=deadline))
    assert caught.value.code().name == code
    if retry_after is not None:
        assert details(caught.value)[0].retry_delay.seconds == retry_after
    assert len(upstream.received) == 1


async def test_decision_arguments_survive_a_round_trip(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(decision())
    async with serve(config(tmp_path, upstream)) as s:
        got = await collect(s.stub.Decide(decide_request(await new_session(s.stub))))
    assert json.loads(got.of("decision")[0].arguments_json) == {"target": "Ash"}
