"""The store behind a real server: turns a dead server left running, and what a PostgreSQL
outage does (UNAVAILABLE with RetryInfo, health NOT_SERVING, the unsaved turn stored later)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2
from narrator_server.core.models import Scene, Turn, TurnKind, TurnStatus, Usage
from narrator_server.store.opening import open_store

from ..support import SCENE, collect, details, new_session, serve, settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.postgres import PostgresServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_turns_a_dead_server_left_running_are_interrupted_at_start(
    tmp_path: Path, database_url: str
) -> None:
    config = settings(tmp_path, database_url=database_url)
    async with serve(config) as s:
        session_id = await new_session(s.stub)
    # A server that died mid-turn left its claim behind.
    store = await open_store(config, server=True)
    left = Turn(
        turn_id="t-left", session_id=session_id, kind=TurnKind.NARRATION, input="I wait",
        scene=Scene("the crypt"), text="", status=TurnStatus.RUNNING, provider="offline",
        model="narrator-offline-1", usage=Usage(), created_at=time.time() - 60,
    )  # fmt: skip
    assert await store.claim_turn(left) is None
    await store.close()

    async with serve(config) as s:
        reply = await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        (turn,) = reply.session.recent_turns
        assert (turn.turn_id, turn.status) == ("t-left", session_pb2.TURN_STATUS_INTERRUPTED)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(
                s.stub.Narrate(
                    pb.NarrateRequest(
                        session_id=session_id, action="I wait", scene=SCENE, turn_id="t-left"
                    )
                )
            )
        assert caught.value.code() is grpc.StatusCode.ABORTED
        assert "interrupted" in str(caught.value.details())


async def health(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int((await stub.Check(health_pb2.HealthCheckRequest(service=""))).status)


async def test_a_database_outage_is_unavailable_and_the_server_recovers_by_itself(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    url = own_postgres.create_database("game")
    config = settings(tmp_path, database_url=url, database_timeout_s=1.0, offline_pace_ms=20)
    async with serve(config) as s:
        assert s.app.narrator is not None
        session_id = await new_session(s.stub)
        call = s.stub.Narrate(
            pb.NarrateRequest(session_id=session_id, action="I hold my breath", scene=SCENE)
        )
        streamed: list[str] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for message in call:
                if message.WhichOneof("event") == "started":
                    own_postgres.halt()  # the turn is claimed; now the database goes away
                elif message.WhichOneof("event") == "delta":
                    streamed.append(message.delta.text)
        # The narration went on; only storing its end failed, so the caller cannot trust it.
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        assert any(isinstance(d, error_details_pb2.RetryInfo) for d in details(caught.value))
        assert streamed
        assert len(s.app.narrator.engine.unsaved) == 1

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await new_session(s.stub)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
        assert any(isinstance(d, error_details_pb2.RetryInfo) for d in details(refused.value))
        await s.app.check_health_now()
        assert await health(s.channel) == NOT_SERVING

        own_postgres.restart()
        await s.app.check_health_now()
        assert await health(s.channel) == SERVING
        assert s.app.narrator.engine.unsaved == {}
        reply = await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        (turn,) = reply.session.recent_turns
        assert turn.status == session_pb2.TURN_STATUS_COMPLETED
        assert turn.text == "".join(streamed)
        assert await new_session(s.stub)
