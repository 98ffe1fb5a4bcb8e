"""Composition root and lifecycle: build everything from Settings, serve, drain, close."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from narrator.v1 import narrator_service_pb2_grpc

from . import access, event_loop, heap, listening
from .api.auth import AuthInterceptor, AuthMode
from .api.decoding import DecodingInterceptor
from .api.interceptor import TelemetryInterceptor
from .api.servicer import NarratorServicer
from .compose import moderation_summary, moderator, narrator_config, server_options
from .core.errors import StoreUnavailable
from .core.keyring import KeyRing
from .core.narrator import Narrator
from .core.quotas import Quotas
from .core.schema_work import SchemaWork
from .health import SERVICE, HealthKeeper
from .providers import factory
from .quotas.local import LocalQuotaCounter
from .store.opening import StoreOpenError, open_store
from .telemetry import logs
from .telemetry.keys import observe_keys
from .telemetry.setup import TelemetryRuntime
from .turnlog.local import LocalTurnLog
from .workers.pool import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Sequence

    import openai

    from .core.keys import KeyStore
    from .core.memory_storage import CampaignStore
    from .core.ports import ChatProvider
    from .core.quotas import QuotaCounter
    from .core.turnlog import TurnLog
    from .providers.breaker_sync import BreakerSync
    from .providers.chain import ProviderChain
    from .settings import Settings
    from .shared import redis_client

log = logging.getLogger(__name__)


_LISTEN_TODO = "stop the other server, or set NARRATOR_HOST/NARRATOR_PORT (port 0 picks a free one)"


class StartupError(Exception):
    """The service cannot start; the message says what, where and what to do (one line)."""


class App:
    """The running service. `start()`, then `stop()` (or `serve()` until SIGTERM/SIGINT)."""

    def __init__(
        self,
        settings: Settings,
        *,
        provider: ChatProvider | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        quota_counter: QuotaCounter | None = None,
    ) -> None:
        self.settings = settings
        self._provider_override = provider
        self._interceptors = interceptors
        self._quota_counter = quota_counter
        self.keyring: KeyRing | None = None
        self.key_store: KeyStore | None = None
        self.quotas: Quotas | None = None
        self._key_refresh: access.KeyRefresh | None = None
        self._server: grpc.aio.Server | None = None
        self.store: CampaignStore | None = None
        self.turn_log: TurnLog | None = None
        self.narrator: Narrator | None = None
        self._clients: list[openai.AsyncOpenAI] = []
        self.redis: redis_client.Redis | None = None
        self._breakers: BreakerSync | None = None
        self._health = health.aio.HealthServicer()
        self.health = HealthKeeper(self._health)
        self._maintenance: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None
        self._heap: asyncio.Task[None] | None = None
        self._chain: ProviderChain | None = None
        self.telemetry: TelemetryRuntime | None = None
        self.workers: WorkerPool | None = None
        self.port = 0
        self._started_at = 0.0

    async def _open_access(
        self, store: CampaignStore
    ) -> tuple[AuthMode, grpc.ServerCredentials | None]:
        """The keys as stored now, the authentication mode and the TLS credentials."""
        keys = store.keys
        self.key_store = keys
        self.keyring = keyring = KeyRing(keys)
        try:
            await keyring.refresh()
            return access.auth_mode(self.settings, keyring), access.server_credentials(
                self.settings
            )
        except (StoreUnavailable, access.AccessError) as error:
            await self._close_resources()
            raise StartupError(str(error)) from None

    def _open_turn_log(self) -> TurnLog:
        """Redis when NARRATOR_REDIS_URL is set (every replica shares running turns), else in
        process. Nothing connects yet: an unreachable Redis shows in health, not at start."""
        s = self.settings
        if self.redis is None:
            return LocalTurnLog(keep_s=s.resume_window_s)
        from .turnlog.redis import RedisTurnLog

        return RedisTurnLog(self.redis, lease=s.lease_s, resume_window=s.resume_window_s)

    async def start(self) -> int:
        """Opens everything and listens; on any failure, closes what was opened."""
        try:
            return await self._start()
        except BaseException:
            await self._close_resources()
            raise

    async def _start(self) -> int:
        s = self.settings
        # First: a busy port fails the start at once, before anything is opened or logged.
        if problem := listening.why_not(s.host, s.port):
            raise StartupError(f"cannot listen on {s.host}:{s.port}: {problem}; {_LISTEN_TODO}")
        self._started_at = time.time()
        try:
            self.store = store = await open_store(s, server=True)
        except StoreOpenError as error:
            raise StartupError(str(error)) from None
        mode, credentials = await self._open_access(store)
        assert self.keyring is not None
        # Redis adapters are imported only when Redis is used (the client costs memory).
        if s.redis_url:
            from .shared import redis_client

            self.redis = redis_client.connect(s.redis_url, s.redis_timeout_s)
        counter = self._quota_counter
        if counter is None:  # with Redis, N replicas share every limit instead of multiplying it
            counter = LocalQuotaCounter()
            if self.redis is not None:
                from .shared.redis_quotas import RedisQuotaCounter

                counter = RedisQuotaCounter(self.redis)
        self.quotas = quotas = Quotas(counter, self.keyring.usage)
        self.turn_log = turn_log = self._open_turn_log()
        self.telemetry = runtime = TelemetryRuntime(s)
        logs.join_traces()
        self.workers = WorkerPool(s.schema_workers)
        schema_work = SchemaWork(self.workers, s.schema_budget_ms / 1000)
        provider, self._clients = factory.build(s, runtime.telemetry, schema_work)
        self._chain = provider
        if self.redis is not None:  # every replica stops calling an upstream one found dead
            from .providers.breaker_sync import BreakerSync
            from .shared.redis_breakers import RedisBreakers

            self._breakers = BreakerSync(provider.upstreams, RedisBreakers(self.redis))
            provider.on_open = self._breakers.opened
            self._breakers.start()
        self.narrator = narrator = Narrator(
            self._provider_override or provider,
            store,
            turn_log,
            narrator_config(s),
            quotas=quotas,
            schema_work=schema_work,
            moderator=moderator(
                s, self._clients, runtime.telemetry.meter, runtime.telemetry.histograms
            ),
        )
        observe_keys(runtime.telemetry.meter, self.keyring.usage)
        # Outermost first. Telemetry outside authentication: refused calls get a span and an
        # audit line too. A request that cannot be decoded (or holds an over-long list) is
        # answered INVALID_ARGUMENT once its caller is admitted, before any servicer sees it.
        interceptors = [
            TelemetryInterceptor(runtime.telemetry),
            AuthInterceptor(self.keyring, quotas, mode),
            DecodingInterceptor(),
            *self._interceptors,
        ]
        server = grpc.aio.server(interceptors=interceptors, options=server_options(s))
        narrator_service_pb2_grpc.add_NarratorServiceServicer_to_server(
            NarratorServicer(narrator), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        address = f"{s.host}:{s.port}"
        try:
            if credentials is None:
                self.port = server.add_insecure_port(address)
            else:
                self.port = server.add_secure_port(address, credentials)
        except RuntimeError:
            raise StartupError(
                f"cannot listen on {address}: the port is in use or the address is not this "
                f"machine's; {_LISTEN_TODO}"
            ) from None
        await self.check_health_now()  # also marks the turns a stopped server left running
        await server.start()
        self._server = server
        # What start-up built (modules, descriptors, settings) lives as long as the process:
        # out of the collector's sight, a full collection pauses the event loop far less.
        gc.freeze()
        loop = asyncio.get_running_loop()
        stale_after = s.resume_window_s + 2 * s.lease_s
        self._maintenance = loop.create_task(
            self.health.maintain(store, narrator.engine, turn_log, self._chain, stale_after)
        )
        self._probe = loop.create_task(self._probe_upstreams())
        if s.heap_trim_s:
            keeper = heap.HeapKeeper(s.heap_trim_s, lambda: sum(self.open_streams()))
            self._heap = loop.create_task(keeper.run())
        assert self.key_store is not None
        self._key_refresh = access.KeyRefresh(self.keyring, self.key_store, s.key_refresh_s)
        self._key_refresh.start()
        return self.port

    async def _probe_upstreams(self) -> None:
        if self._chain is not None and self._provider_override is None:
            await self._chain.probe()
        await self.health.set_upstreams(self._chain)

    async def check_health_now(self) -> bool:
        """One health round at once (start, tests): see `health.HealthKeeper.check`."""
        assert self.store is not None
        assert self.narrator is not None
        assert self.turn_log is not None
        await self.health.set_upstreams(self._chain)
        return await self.health.check(
            self.store, self.narrator.engine, self.turn_log, self._started_at
        )

    async def refresh_keys(self) -> None:
        """One key refresh round at once: created and revoked keys, usage written (tests)."""
        assert self._key_refresh is not None
        await self._key_refresh.once()

    def open_streams(self) -> tuple[int, int]:
        """Streams being served and turns still running (both 0 when the server is idle)."""
        if self.narrator is None:
            return 0, 0
        return self.narrator.active_streams, self.narrator.live_turns

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, let in-flight streams finish for `grace` seconds, cancel the rest
        (their turns are stored as cancelled), then close the store and the upstream client."""
        grace = self.settings.shutdown_grace_s if grace is None else grace
        await self._health.enter_graceful_shutdown()
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        for task in (self._maintenance, self._heap):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._maintenance = self._heap = None
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        if self.narrator is not None and not await self.narrator.drain():
            log.error("some turns could not be stored before shutdown")
        if self._key_refresh is not None:
            await self._key_refresh.stop()  # the last usage is written
            self._key_refresh = None
        await self._close_resources()

    async def _close_resources(self) -> None:
        if self.workers is not None:
            await self.workers.close()
            self.workers = None
        for client in self._clients:
            await client.close()
        self._clients = []
        if self._breakers is not None:
            await self._breakers.close()
            self._breakers = None
        if self.turn_log is not None:
            await self.turn_log.close()
            self.turn_log = None
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None
        if self.store is not None:
            await self.store.close()
            self.store = None
        if self.telemetry is not None:
            await self.telemetry.shutdown()
            self.telemetry = None

    async def serve(self) -> None:
        port = await self.start()
        s = self.settings
        print(f"narrator listening on {s.host}:{port}", flush=True)
        metrics = self.telemetry.metrics_port if self.telemetry else None
        upstreams = [{"name": u.name, "host": u.host, "model": u.model} for u in s.upstreams]
        mode = "upstreams" if upstreams else "offline narrator"
        loop = asyncio.get_running_loop()
        log.info(
            "serving",
            extra={
                "port": port,
                "mode": mode,
                "event_loop": event_loop.name(loop),
                "upstreams": upstreams,
                "metrics_port": metrics,
                "moderation": moderation_summary(s),
            },
        )
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("shutting down", extra={"grace_s": s.shutdown_grace_s})
        await self.stop()
