"""CreateSession, GetSession, DeleteSession through a real server; sessions survive a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2

from ..support import SCENE, collect, details, new_session, serve, settings

if TYPE_CHECKING:
    from pathlib import Path


async def test_create_get_delete(tmp_path: Path, database_url: str) -> None:
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        session_id = await new_session(s.stub, seed=42)
        got = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
        assert got.session_id == session_id
        assert got.seed == 42
        assert got.setting.world == "a drowned city ruled by smugglers"
        assert got.player.name == "Ash"
        assert got.turn_count == 0
        assert got.create_time.seconds > 0

        await s.stub.DeleteSession(pb.DeleteSessionRequest(session_id=session_id))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_server_chooses_a_seed_when_none_is_given(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        response = await s.stub.CreateSession(
            pb.CreateSessionRequest(
                setting=session_pb2.Setting(world="w"), player=session_pb2.PlayerCharacter(name="A")
            )
        )
        assert response.session.seed != 0


async def test_recent_turns_are_listed_oldest_first_and_limited(
    tmp_path: Path, database_url: str
) -> None:
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        session_id = await new_session(s.stub)
        actions = [f"I light torch number {i}" for i in range(4)]
        for action in actions:
            await collect(
                s.stub.Narrate(pb.NarrateRequest(session_id=session_id, action=action, scene=SCENE))
            )
        got = await s.stub.GetSession(
            pb.GetSessionRequest(session_id=session_id, recent_turn_limit=2)
        )
        assert got.session.turn_count == 4
        assert [t.input for t in got.session.recent_turns] == actions[2:]
        turn = got.session.recent_turns[-1]
        assert turn.status == session_pb2.TURN_STATUS_COMPLETED
        assert turn.kind == session_pb2.TURN_KIND_NARRATION
        assert turn.provider == "offline"
        assert turn.scene.location == "the flooded crypt"
        assert turn.text


async def test_sessions_and_turns_survive_a_restart(tmp_path: Path, database_url: str) -> None:
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        session_id = await new_session(s.stub)
        first = await collect(
            s.stub.Narrate(
                pb.NarrateRequest(session_id=session_id, action="I wade in", scene=SCENE)
            )
        )
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        got = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
        assert got.turn_count == 1
        assert got.recent_turns[0].text == first.text


@pytest.mark.parametrize("rpc", ["GetSession", "DeleteSession"])
async def test_unknown_or_empty_session(tmp_path: Path, database_url: str, rpc: str) -> None:
    request_type = getattr(pb, f"{rpc}Request")
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(s.stub, rpc)(request_type(session_id="nope"))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(s.stub, rpc)(request_type(session_id=""))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert details(caught.value)[0].field_violations[0].field == "session_id"


async def test_create_session_needs_a_world_and_a_name(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.stub.CreateSession(pb.CreateSessionRequest())
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        fields = {v.field for v in details(caught.value)[0].field_violations}
        assert fields == {"setting.world", "player.name"}
