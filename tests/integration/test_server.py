"""The standard services next to ours: health (with shutdown) and reflection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import session_pb2
from narrator_server.app import App

from ..support import collect, new_session, serve, settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


async def test_health_is_serving_per_service(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        health = health_pb2_grpc.HealthStub(s.channel)
        for service in ("", "narrator.v1.NarratorService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_service(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        stub = reflection_pb2_grpc.ServerReflectionStub(s.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names = {svc.name for svc in reply.list_services_response.service}
            assert "narrator.v1.NarratorService" in names
            assert "grpc.health.v1.Health" in names
            break


class BrokenProvider:
    """A provider with a bug: the server must answer INTERNAL and reveal nothing of it."""

    async def stream(self, request: object) -> AsyncIterator[object]:
        raise RuntimeError("secret internals")
        yield  # an async generator


async def test_a_bug_is_internal_and_reveals_nothing(tmp_path: Path) -> None:
    app = App(settings(tmp_path), provider=BrokenProvider())  # type: ignore[arg-type]
    port = await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.NarratorServiceStub(channel)
            session_id = await new_session(stub)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(stub.Narrate(pb.NarrateRequest(session_id=session_id, action="hi")))
            assert caught.value.code() is grpc.StatusCode.INTERNAL
            assert caught.value.details() == "internal error"
            session = await stub.GetSession(pb.GetSessionRequest(session_id=session_id))
            assert session.session.recent_turns[0].status == session_pb2.TURN_STATUS_FAILED
    finally:
        await app.stop(grace=0)
