"""The standard services next to ours: health (with shutdown) and reflection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ..support import serve, settings

if TYPE_CHECKING:
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
