"""Composition root and lifecycle: build everything from Settings, serve, drain, close."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from narrator.v1 import narrator_service_pb2, narrator_service_pb2_grpc

from .api.interceptor import TelemetryInterceptor
from .api.servicer import NarratorServicer
from .core.narrator import Narrator, NarratorConfig
from .core.validation import Limits
from .providers import factory
from .store.sqlite import SqliteStore
from .telemetry import logs
from .telemetry.setup import TelemetryRuntime

if TYPE_CHECKING:
    from collections.abc import Sequence

    import openai

    from .core.ports import ChatProvider
    from .settings import Settings

log = logging.getLogger(__name__)
SERVICE = narrator_service_pb2.DESCRIPTOR.services_by_name["NarratorService"].full_name


class App:
    """The running service. `start()`, then `stop()` (or `serve()` until SIGTERM/SIGINT)."""

    def __init__(
        self,
        settings: Settings,
        *,
        provider: ChatProvider | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self.settings = settings
        self._provider_override = provider
        self._interceptors = interceptors
        self._server: grpc.aio.Server | None = None
        self._store: SqliteStore | None = None
        self._narrator: Narrator | None = None
        self._clients: list[openai.AsyncOpenAI] = []
        self._health = health.aio.HealthServicer()
        self.telemetry: TelemetryRuntime | None = None
        self.port = 0

    async def start(self) -> int:
        s = self.settings
        self._store = await SqliteStore.open(s.data_dir / "narrator.sqlite3")
        self.telemetry = runtime = TelemetryRuntime(s)
        logs.join_traces()
        provider, self._clients = factory.build(s, runtime.telemetry)
        self._narrator = narrator = Narrator(
            self._provider_override or provider,
            self._store,
            NarratorConfig(
                limits=Limits(max_input_chars=s.max_input_chars),
                history_token_budget=s.history_token_budget,
                max_tokens=s.max_tokens,
                temperature=s.temperature,
                max_streams=s.max_streams,
                resume_window=s.resume_window_s,
                max_recoveries=s.max_recoveries,
            ),
        )
        interceptors = [TelemetryInterceptor(runtime.telemetry), *self._interceptors]
        server = grpc.aio.server(interceptors=interceptors)
        narrator_service_pb2_grpc.add_NarratorServiceServicer_to_server(
            NarratorServicer(narrator), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        self.port = server.add_insecure_port(f"{s.host}:{s.port}")
        await server.start()
        self._server = server
        for name in ("", SERVICE):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    def open_streams(self) -> tuple[int, int]:
        """Streams being served and turns still running (both 0 when the server is idle)."""
        if self._narrator is None:
            return 0, 0
        return self._narrator.active_streams, self._narrator.live_turns

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, let in-flight streams finish for `grace` seconds, cancel the rest
        (their turns are stored as cancelled), then close the store and the upstream client."""
        grace = self.settings.shutdown_grace_s if grace is None else grace
        await self._health.enter_graceful_shutdown()
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        if self._narrator is not None and not await self._narrator.drain():
            log.error("some cancelled turns could not be stored before shutdown")
        for client in self._clients:
            await client.close()
        self._clients = []
        if self._store is not None:
            await self._store.close()
            self._store = None
        if self.telemetry is not None:
            await self.telemetry.shutdown()
            self.telemetry = None

    async def serve(self) -> None:
        port = await self.start()
        names = [u.name for u in self.settings.upstreams]
        mode = f"upstreams {names}" if names else "offline narrator"
        print(f"narrator listening on {self.settings.host}:{port}", flush=True)
        metrics = self.telemetry.metrics_port if self.telemetry else None
        log.info("serving", extra={"port": port, "mode": mode, "metrics_port": metrics})
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("shutting down", extra={"grace_s": self.settings.shutdown_grace_s})
        await self.stop()
