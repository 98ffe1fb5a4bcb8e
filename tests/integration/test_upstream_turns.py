"""Turns served by an OpenAI-compatible upstream (the fake, over real HTTP, through the SDK)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2, turn_pb2
from narrator_server.settings import Settings, UpstreamSettings
from narrator_server.testing.replies import Reply

from ..support import SCENE, assert_stream_order, collect, new_session, serve, settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

KEY = "sk-test-very-secret-key"
OPTIONS = [
    turn_pb2.DecisionOption(
        id="attack",
        description="Grub attacks",
        arguments_schema=json.dumps(
            {"type": "object", "properties": {"target": {"type": "string"}}, "required": ["target"]}
        ),
    ),
    turn_pb2.DecisionOption(id="flee", description="Grub flees"),
]


def upstream_settings(tmp_path: Path, fake: FakeOpenAI, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "upstreams": (UpstreamSettings("openai", fake.base_url, "fake-dm-1", KEY),),
        "retry_initial_wait_s": 0.01,
        "retry_max_wait_s": 0.05,
    }
    return settings(tmp_path, **(base | overrides))


def narrate(session_id: str, action: str = "I step into the water") -> pb.NarrateRequest:
    return pb.NarrateRequest(session_id=session_id, action=action, scene=SCENE)


async def stored_turn(stub: Any, session_id: str) -> session_pb2.Turn:
    for _ in range(500):  # a cancelled turn is stored once the server sees the cancel
        session = (await stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
        if (
            session.recent_turns
            and session.recent_turns[-1].status != session_pb2.TURN_STATUS_RUNNING
        ):
            return session.recent_turns[-1]
        await asyncio.sleep(0.01)
    raise AssertionError("the turn was never stored")


async def test_narration_streams_the_upstream_text_with_usage(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="Cold water bites at your ankles.", usage=(120, 9)))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))
    assert_stream_order(got)
    assert got.text == "Cold water bites at your ankles."
    assert (got.of("started")[0].provider, got.of("started")[0].model) == ("openai", "fake-dm-1")
    usage = got.of("completed")[0].usage
    assert (usage.input_tokens, usage.output_tokens) == (120, 9)
    sent = upstream.received[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    roles_with_action = {m["role"] for m in sent.body["messages"] if "step into" in m["content"]}
    assert roles_with_action == {"user"}


async def test_turn_two_remembers_turn_one(tmp_path: Path, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(text="A lantern glows."), Reply(text="The lantern gutters."))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        await collect(s.stub.Narrate(narrate(session_id, "I look for light")))
        await collect(s.stub.Narrate(narrate(session_id, "I grab the lantern")))
    second = upstream.received[1].body["messages"]
    assert {"role": "assistant", "content": "A lantern glows."} in second
    assert any(m["role"] == "user" and "I look for light" in m["content"] for m in second)


@pytest.mark.parametrize(
    "limited", [Reply.error(429, retry_after=0.05), Reply.error(429, retry_after_ms=30)]
)
async def test_rate_limit_then_success_has_no_duplicated_text(
    tmp_path: Path, upstream: FakeOpenAI, limited: Reply
) -> None:
    upstream.script(limited, Reply(text="Finally, the gate opens."))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))
    assert_stream_order(got)
    assert got.text == "Finally, the gate opens."
    assert len(upstream.received) == 2


async def test_drop_mid_stream_is_continued_without_repeat_or_gap(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="One two three four", drop_after=3), Reply(text="four five."))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))
        turn = await stored_turn(s.stub, session_id)
    assert_stream_order(got)
    assert got.text == "One two three four five."
    (recovery,) = got.of("completed")[0].recoveries
    assert (recovery.provider, recovery.model, recovery.after_seq) == ("openai", "fake-dm-1", 3)
    resumed = upstream.received[1].body["messages"]
    assert resumed[-2] == {"role": "assistant", "content": "One two three "}
    assert "Continue" in resumed[-1]["content"]
    assert turn.status == session_pb2.TURN_STATUS_COMPLETED
    assert list(turn.recoveries) == list(got.of("completed")[0].recoveries)


async def test_a_drop_nothing_can_continue_fails_the_turn(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    down = Reply.error(503, retry_after_ms=1)
    upstream.script(Reply(text="One two three four", drop_after=3), *[down] * 12)
    async with serve(upstream_settings(tmp_path, upstream, fallback=False)) as s:
        session_id = await new_session(s.stub)
        events = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for message in s.stub.Narrate(narrate(session_id)):
                events.append(message.WhichOneof("event"))
        turn = await stored_turn(s.stub, session_id)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert events == ["started", "delta", "delta", "delta"]
    assert turn.status == session_pb2.TURN_STATUS_FAILED
    assert turn.text == "One two three "


async def test_client_cancel_closes_the_upstream_request(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="word " * 200, pace=0.02))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        call = s.stub.Narrate(narrate(session_id))
        async for message in call:
            if message.WhichOneof("event") == "delta":
                call.cancel()
                break
        # A guard against a hang, not a speed check.
        await asyncio.wait_for(upstream.received[0].client_disconnected.wait(), 30)
        turn = await stored_turn(s.stub, session_id)
    assert upstream.received[0].chunks_sent < 200
    assert turn.status == session_pb2.TURN_STATUS_CANCELLED


@pytest.mark.parametrize(
    "down", [Reply.error(503, retry_after_ms=1), Reply(drop_before_response=True)]
)
async def test_offline_narrator_takes_over_when_upstream_is_down(
    tmp_path: Path, upstream: FakeOpenAI, down: Reply
) -> None:
    upstream.script(*[down] * 4)
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))
        turn = await stored_turn(s.stub, session_id)
    assert_stream_order(got)
    assert got.of("started")[0].provider == "offline"
    assert len(upstream.received) == 4
    assert (turn.provider, turn.status) == ("offline", session_pb2.TURN_STATUS_COMPLETED)


async def test_without_fallback_a_down_upstream_is_unavailable(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(*[Reply.error(500, retry_after_ms=1)] * 4)
    async with serve(upstream_settings(tmp_path, upstream, fallback=False)) as s:
        session_id = await new_session(s.stub)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(narrate(session_id)))
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "secret" not in (caught.value.details() or "")


async def test_rejected_request_never_leaks_the_key_or_the_upstream_body(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply.error(401))
    async with serve(upstream_settings(tmp_path, upstream, fallback=False)) as s:
        session_id = await new_session(s.stub)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(narrate(session_id)))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    message = caught.value.details() or ""
    assert KEY not in message
    assert "secret body" not in message
    assert len(upstream.received) == 1


async def decide(s: Any, session_id: str) -> Any:
    return await collect(
        s.stub.Decide(
            pb.DecideRequest(
                session_id=session_id,
                question="What does Grub do?",
                options=OPTIONS,
                default_option_id="flee",
                scene=SCENE,
            )
        )
    )


async def test_decision_uses_structured_output_and_streams_the_rationale(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply.decision("attack", {"target": "Ash"}, 'Grub snarls: "Mine!"'))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        got = await decide(s, await new_session(s.stub))
    assert_stream_order(got, decision=True)
    assert got.text == 'Grub snarls: "Mine!"'
    decision = got.of("decision")[0]
    assert (decision.option_id, json.loads(decision.arguments_json)) == (
        "attack",
        {"target": "Ash"},
    )
    assert decision.source == turn_pb2.DECISION_SOURCE_MODEL
    schema = upstream.received[0].body["response_format"]["json_schema"]["schema"]
    branches = schema["properties"]["decision"]["anyOf"]
    assert [b["properties"]["option_id"]["enum"] for b in branches] == [["attack"], ["flee"]]


async def test_tool_call_deltas_are_understood(tmp_path: Path, upstream: FakeOpenAI) -> None:
    answer = Reply.decision("flee", {}, "He runs.")
    answer.as_tool_call = True
    upstream.script(answer)
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        got = await decide(s, await new_session(s.stub))
    assert got.of("decision")[0].option_id == "flee"
    assert got.text == "He runs."


async def test_an_invalid_answer_is_repaired_once(tmp_path: Path, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply.decision("dance", {}, "Grub dances."),
        Reply.decision("attack", {"target": "Ash"}, "Grub attacks instead."),
    )
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        got = await decide(s, await new_session(s.stub))
    assert_stream_order(got, decision=True)
    decision = got.of("decision")[0]
    assert (decision.option_id, decision.source) == ("attack", turn_pb2.DECISION_SOURCE_REPAIRED)
    assert got.text == "Grub dances."  # the client saw only the first rationale, once
    repair = upstream.received[1].body["messages"]
    assert "invalid" in repair[-1]["content"]


async def test_two_invalid_answers_fall_back_to_the_default_option(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(
        Reply.decision("attack", {"target": 3}, "Bad arguments."),
        Reply(text="not json at all"),
    )
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        got = await decide(s, await new_session(s.stub))
    decision = got.of("decision")[0]
    assert (decision.option_id, decision.source) == ("flee", turn_pb2.DECISION_SOURCE_FALLBACK)
    assert decision.arguments_json == "{}"


async def test_the_offline_narrator_finishes_a_turn_the_upstream_cannot(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    down = Reply.error(503, retry_after_ms=1)
    upstream.script(Reply(text="The lid groans as you push it", drop_after=4), *[down] * 4)
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        got = await collect(s.stub.Narrate(narrate(await new_session(s.stub))))
    assert_stream_order(got)
    assert got.of("started")[0].provider == "openai"
    (recovery,) = got.of("completed")[0].recoveries
    assert (recovery.provider, recovery.after_seq) == ("offline", 4)
    assert got.text.startswith("The lid groans as \u2026 ")
