"""Issue 8's hostile requests against a real server: each answered (never INTERNAL), health
answering throughout, nothing stored for a refused call, nothing stored that cannot be sent."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import scene_pb2, session_pb2, turn_pb2
from narrator_server.core.models import (
    Decision,
    DecisionSource,
    Scene,
    TurnKind,
    TurnStatus,
    Usage,
)
from narrator_server.core.planning import TurnSpec
from narrator_server.telemetry.logs import JsonFormatter
from narrator_server.testing import hostile
from narrator_server.testing.replies import Reply

from ..support import Collected, collect, details, new_session, serve, settings
from .test_upstream_turns import narrate, upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI


async def turn_count(stub: Any, session_id: str) -> int:
    session = await stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    return int(session.session.turn_count)


async def answer(call: Any) -> tuple[grpc.StatusCode, list[str], Collected | None]:
    """The call's code, its field violations, and what it streamed when it succeeded."""
    try:
        return grpc.StatusCode.OK, [], await collect(call)
    except grpc.aio.AioRpcError as error:
        found = details(error)
        fields = [v.field for v in found[0].field_violations] if found else []
        return error.code(), fields, None


async def test_hostile_decides_are_answered_while_health_answers(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        created = await s.stub.CreateSession(
            pb.CreateSessionRequest(
                setting=session_pb2.Setting(world="a goblin warren"),
                player=session_pb2.PlayerCharacter(name=hostile.PLAYER),
            )
        )
        session_id = created.session.session_id
        health = health_pb2_grpc.HealthStub(s.channel)
        answers: list[int] = []
        done = asyncio.Event()

        async def poll() -> None:
            while not done.is_set():
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=30)
                answers.append(reply.status)
                await asyncio.sleep(0.01)

        poller = asyncio.ensure_future(poll())
        outcomes: dict[str, str] = {}
        for case in hostile.decides(session_id):
            before = await turn_count(s.stub, session_id)
            polled = len(answers)
            code, fields, got = await answer(s.stub.Decide(case.request, timeout=60))
            outcomes[case.name] = code.name
            if case.field is None:
                assert got is not None
                assert got.events[-2:] == ["decision", "completed"], case.name
                assert await turn_count(s.stub, session_id) == before + 1
            else:
                assert case.field in fields, (case.name, fields)
                assert await turn_count(s.stub, session_id) == before, case.name
            await asyncio.sleep(0.02)
            assert len(answers) > polled, f"no health answer while {case.name!r} ran"
        done.set()
        await poller
    expected = {
        c.name: "OK" if c.field is None else "INVALID_ARGUMENT" for c in hostile.decides("")
    }
    assert outcomes == expected
    assert set(answers) == {health_pb2.HealthCheckResponse.SERVING}


async def test_huge_counts_get_a_small_error_the_client_can_read(tmp_path: Path) -> None:
    """10,000 empty facts, characters and options: one violation, not 30,000 (which would not
    fit in gRPC's trailers), and nothing of the lists converted or stored. Lists over the API's
    limit but not huge get the precise limit, still without a violation per entry."""
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        huge = scene_pb2.Scene(facts=[""] * 10_000, characters=[scene_pb2.Character()] * 10_000)
        empty_options = [turn_pb2.DecisionOption()] * 10_000
        cases = [
            (s.stub.Decide, pb.DecideRequest(session_id=session_id, question="", scene=huge,
                                             options=empty_options), ["options"]),
            (s.stub.Narrate, pb.NarrateRequest(session_id=session_id, action="x", scene=huge),
             ["scene.characters"]),
            (s.stub.Narrate, pb.NarrateRequest(session_id=session_id, action="",
                                               scene=scene_pb2.Scene(facts=[""] * 100)),
             ["action", "scene.facts"]),
        ]  # fmt: skip
        for method, request, expected in cases:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(method(request))
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert [v.field for v in details(caught.value)[0].field_violations] == expected
            assert len(caught.value.details() or "") < 1000
        assert await turn_count(s.stub, session_id) == 0


async def test_invalid_utf8_is_invalid_argument_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = b"\xff\xfe\xed\xa0\x80"  # not UTF-8, and a UTF-8-encoded lone surrogate
    caplog.set_level(logging.INFO)
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        caplog.clear()
        request = pb.NarrateRequest(
            session_id=session_id, action="look", scene=scene_pb2.Scene(facts=["ok", "MARKS"])
        )
        raw = request.SerializeToString().replace(b"MARKS", bad)
        call = s.channel.unary_stream("/narrator.v1.NarratorService/Narrate")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call(raw):
                pass
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        (bad_request,) = details(caught.value)
        assert [v.field for v in bad_request.field_violations] == ["scene.facts[1]"]
        problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(problems) == 1
        assert problems[0].exc_info is None
        assert "scene.facts[1]" in str(getattr(problems[0], "error", ""))
        # The unary methods and the health service too.
        create = pb.CreateSessionRequest(player=session_pb2.PlayerCharacter(name="MARKS"))
        unary = s.channel.unary_unary("/narrator.v1.NarratorService/CreateSession")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary(create.SerializeToString().replace(b"MARKS", bad))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in details(caught.value)[0].field_violations] == ["player.name"]
        check = health_pb2.HealthCheckRequest(service="MARKS").SerializeToString()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.channel.unary_unary("/grpc.health.v1.Health/Check")(
                check.replace(b"MARKS", bad)
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary(b"\x0a\xff\xff")  # a length past the end: not protobuf at all
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_huge_session_id_is_bounded_in_logs_and_spans(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    huge = "S" * 1_000_000
    async with serve(settings(tmp_path, metrics_port=-1)) as s:
        for _ in range(5):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await s.stub.DeleteSession(pb.DeleteSessionRequest(session_id=huge))
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert s.app.telemetry is not None
        await s.app.telemetry.flush()
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    assert any("DeleteSession" in line for line in lines)
    assert max(len(line) for line in lines) < 5000
    spans = (tmp_path / "traces.jsonl").read_text()
    assert "DeleteSession" in spans
    assert len(spans) < 50_000


async def test_model_text_that_cannot_be_encoded_is_repaired(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    """Lone surrogates from a model's JSON escapes (in the text and the model name) never reach
    a delta or the store: they become U+FFFD, and the session stays readable."""
    lone = json.dumps({"model": "m\ud800", "choices": [{"delta": {"content": "Dark\udc00ness"}}]})
    finish = json.dumps({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    upstream.script(Reply(raw_events=[lone, finish]))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))
        assert got.text == "Dark\ufffdness"
        assert got.of("started")[0].model == "m\ufffd"
        turns = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
        assert turns.recent_turns[-1].text == "Dark\ufffdness"


async def test_decision_arguments_that_cannot_be_encoded_are_repaired(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    answer = '{"rationale": "Mine\\ud800.", "decision": {"option_id": "flee", "arguments": {"x": "\\udfff"}}}'
    upstream.script(
        Reply(text=answer, chunks=[answer[:20], answer[20:]]),
        Reply.decision("flee", {}, "Fine."),
    )
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        request = pb.DecideRequest(
            session_id=session_id,
            question="What now?",
            options=[turn_pb2.DecisionOption(id="flee", description="run")],
        )
        got = await collect(s.stub.Decide(request))
        (decision,) = got.of("decision")
        assert decision.source == turn_pb2.DECISION_SOURCE_REPAIRED
        assert got.text == "Mine\ufffd."
        session = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
        assert session.recent_turns[-1].decision.arguments_json == "{}"


async def test_a_turn_stops_at_its_size_limit(tmp_path: Path, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(text="word " * 5000))  # 25,000 characters
    async with serve(upstream_settings(tmp_path, upstream, max_turn_chars=1000)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))
        (completed,) = got.of("completed")
        assert completed.finish_reason == turn_pb2.FINISH_REASON_LENGTH
        assert len(got.text) == 1000
        assert completed.text == got.text
        session = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
        assert len(session.recent_turns[-1].text) == 1000


async def test_get_session_fits_the_client_limit_whatever_is_stored(tmp_path: Path) -> None:
    """Turns of 1 MB each, and one whose stored decision holds a lone surrogate (as a JSON
    escape, written before they were refused): GetSession still answers, under the clients'
    default 4 MiB, newest turns kept."""
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        store = s.app.store
        assert store is not None
        spec = TurnSpec(session_id, TurnKind.DECISION, "act", Scene())
        for i in range(6):
            claim = spec.running_turn(f"t{i}", float(i + 1))
            assert await store.claim_turn(claim) is None
            text = "x" * 1_000_000 if i < 5 else "small"
            decision = Decision("a", "{}", DecisionSource.MODEL)
            await store.save_turn(dataclasses.replace(
                claim, text=text, status=TurnStatus.COMPLETED, usage=Usage(1, 1), decision=decision
            ))  # fmt: skip
        with sqlite3.connect(tmp_path / "narrator.sqlite3") as db:
            db.execute("UPDATE turns SET decision = ? WHERE id = 't5'", ['["a","\\ud800","model"]'])
        response = await s.stub.GetSession(
            pb.GetSessionRequest(session_id=session_id, recent_turn_limit=10)
        )
        assert response.ByteSize() < 4 * 1024 * 1024
        turns = response.session.recent_turns
        assert [t.turn_id for t in turns] == ["t2", "t3", "t4", "t5"]  # 3 MiB of 6
        assert turns[-1].decision.arguments_json == "\ufffd"
        assert response.session.turn_count == 6
