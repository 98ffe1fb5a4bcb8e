"""Narrate and Decide with the embedded offline narrator, through a real server."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import grpc
import jsonschema
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2, turn_pb2

from ..support import SCENE, assert_stream_order, collect, new_session, serve, settings

if TYPE_CHECKING:
    from pathlib import Path

ATTACK_SCHEMA = {
    "type": "object",
    "properties": {
        "target": {"type": "string", "minLength": 1},
        "damage": {"type": "integer", "minimum": 1, "maximum": 6},
    },
    "required": ["target", "damage"],
}
OPTIONS = [
    turn_pb2.DecisionOption(
        id="attack",
        description="Grub attacks with his spear",
        arguments_schema=json.dumps(ATTACK_SCHEMA),
    ),
    turn_pb2.DecisionOption(id="flee", description="Grub flees into the water"),
    turn_pb2.DecisionOption(id="parley", description="Grub offers a trade"),
]


async def test_narrate_streams_in_order_from_the_offline_narrator(
    tmp_path: Path, database_url: str
) -> None:
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        session_id = await new_session(s.stub)
        got = await collect(
            s.stub.Narrate(
                pb.NarrateRequest(session_id=session_id, action="I open the coffin", scene=SCENE)
            )
        )
        assert_stream_order(got)
        started = got.of("started")[0]
        assert (started.provider, started.model) == ("offline", "narrator-offline-1")
        completed = got.of("completed")[0]
        assert completed.finish_reason == turn_pb2.FINISH_REASON_STOP
        # One word a chunk (deltas carry whole checked windows: moderation is on by default).
        assert completed.usage.output_tokens == len(got.text.split())
        assert completed.usage.estimated
        assert completed.usage.input_tokens > 0
        assert "you open the coffin" in got.text.lower()


async def test_decide_gives_an_allowed_option_with_valid_arguments(
    tmp_path: Path, database_url: str
) -> None:
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        session_id = await new_session(s.stub)
        for question in ("What does Grub do?", "Grub is cornered and hostile: what now?"):
            got = await collect(
                s.stub.Decide(
                    pb.DecideRequest(
                        session_id=session_id, question=question, options=OPTIONS, scene=SCENE
                    )
                )
            )
            assert_stream_order(got, decision=True)
            decision = got.of("decision")[0]
            assert decision.option_id in {o.id for o in OPTIONS}
            assert decision.source == turn_pb2.DECISION_SOURCE_MODEL
            assert got.of("completed")[0].usage.estimated
            arguments = json.loads(decision.arguments_json)
            if decision.option_id == "attack":
                jsonschema.validate(arguments, ATTACK_SCHEMA)
            else:
                assert arguments == {}
        turns = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
        assert turns.recent_turns[-1].kind == session_pb2.TURN_KIND_DECISION
        assert turns.recent_turns[-1].decision.option_id == decision.option_id


async def test_hostile_scene_makes_the_offline_decider_attack(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        got = await collect(
            s.stub.Decide(
                pb.DecideRequest(
                    session_id=session_id,
                    question="Grub the hostile goblin chief sees you. Does he attack?",
                    options=OPTIONS,
                    scene=SCENE,
                )
            )
        )
        decision = got.of("decision")[0]
        assert decision.option_id == "attack"
        assert json.loads(decision.arguments_json)["target"] == "Ash"  # the player


async def test_client_cancel_stores_the_turn_as_cancelled(
    tmp_path: Path, database_url: str
) -> None:
    async with serve(settings(tmp_path, offline_pace_ms=20, database_url=database_url)) as s:
        session_id = await new_session(s.stub)
        call = s.stub.Narrate(pb.NarrateRequest(session_id=session_id, action="I run", scene=SCENE))
        seen = []
        async for message in call:
            seen.append(message)
            if message.WhichOneof("event") == "delta":
                call.cancel()
                break
        assert await call.code() is grpc.StatusCode.CANCELLED
        turn = None
        for _ in range(200):  # the server learns of the cancel asynchronously
            session = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
            running = session_pb2.TURN_STATUS_RUNNING  # claimed when it started
            if session.recent_turns and session.recent_turns[0].status != running:
                turn = session.recent_turns[0]
                break
            await asyncio.sleep(0.01)
        assert turn is not None
        assert turn.status == session_pb2.TURN_STATUS_CANCELLED
        assert turn.turn_id == seen[0].started.turn_id
        assert 0 < len(turn.text) < 300


async def test_graceful_shutdown_cancels_streams_past_the_grace(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, offline_pace_ms=50)) as s:
        session_id = await new_session(s.stub)
        call = s.stub.Narrate(
            pb.NarrateRequest(session_id=session_id, action="I wait", scene=SCENE)
        )
        await call.read()  # started
        await call.read()  # first delta
        await s.app.stop(grace=0.05)
        with pytest.raises(grpc.aio.AioRpcError):
            while await call.read() is not grpc.aio.EOF:
                pass
    async with serve(settings(tmp_path)) as s:
        session = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
        assert session.recent_turns[0].status == session_pb2.TURN_STATUS_CANCELLED
