"""Health as the health service reports it: SERVING only while the store can write, every turn
it could not take is stored, and the turn log (Redis, if used) answers; `upstream:NAME` per
upstream. Checked at start and every HEALTH_INTERVAL_S; every SWEEP_INTERVAL_S the turns a
dead server left running are marked interrupted."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from grpc_health.v1 import health_pb2

from narrator.v1 import narrator_service_pb2

from .core.errors import CoordinationUnavailable, StoreUnavailable

if TYPE_CHECKING:
    from grpc_health.v1 import health

    from .core.engine import TurnEngine
    from .core.storage import SessionStore
    from .core.turnlog import TurnLog
    from .providers.chain import ProviderChain

log = logging.getLogger(__name__)
SERVICE = narrator_service_pb2.DESCRIPTOR.services_by_name["NarratorService"].full_name
HEALTH_INTERVAL_S = 2.0
SWEEP_INTERVAL_S = 30.0
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthKeeper:
    def __init__(self, servicer: health.aio.HealthServicer) -> None:
        self._servicer = servicer
        self._serving: bool | None = None
        self._upstreams: dict[str, bool] = {}
        self.reason = ""
        self._swept = False  # the turns a stopped server left running were marked

    async def set(self, serving: bool) -> None:
        before = self._serving
        if serving == before:
            return
        self._serving = serving
        for name in ("", SERVICE):
            await self._servicer.set(name, _SERVING if serving else _NOT_SERVING)
        if not serving:
            log.error("health is NOT_SERVING", extra={"reason": self.reason})
        elif before is not None:
            log.info("health is SERVING again")

    async def set_upstreams(self, chain: ProviderChain | None) -> None:
        """`upstream:NAME`: NOT_SERVING while that upstream refuses the server (bad key,
        unknown model), SERVING otherwise."""
        for upstream in chain.upstreams if chain is not None else ():
            serving = not upstream.misconfigured
            if self._upstreams.get(upstream.name) != serving:
                self._upstreams[upstream.name] = serving
                status = _SERVING if serving else _NOT_SERVING
                await self._servicer.set(f"upstream:{upstream.name}", status)

    async def check(
        self, store: SessionStore, engine: TurnEngine, turn_log: TurnLog, started_at: float
    ) -> bool:
        """One round: the store writes, kept turns are stored, a stopped server's running
        turns are marked (once), the turn log answers. True when SERVING."""
        try:
            await store.check_writable()
            await engine.retry_unsaved()
            await turn_log.check()
            if not self._swept:
                interrupted = await engine.sweep(started_at)
                self._swept = True
                if interrupted:
                    log.warning("turns left running by a stopped server marked interrupted",
                                extra={"count": interrupted})  # fmt: skip
        except (StoreUnavailable, CoordinationUnavailable) as error:
            self.reason = (
                "the store cannot write"
                if isinstance(error, StoreUnavailable)
                else "Redis cannot be reached: new turns are refused"
            )
            await self.set(False)
            return False
        await self.set(True)
        return True

    async def maintain(
        self,
        store: SessionStore,
        engine: TurnEngine,
        turn_log: TurnLog,
        chain: ProviderChain | None,
        stale_after: float,
    ) -> None:
        """Runs until cancelled; `stale_after`: how old a running turn nobody produces is
        before it counts as interrupted."""
        last_sweep = time.monotonic()
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            try:
                await self.set_upstreams(chain)
                healthy = await self.check(store, engine, turn_log, 0.0)
                if healthy and time.monotonic() - last_sweep > SWEEP_INTERVAL_S:
                    last_sweep = time.monotonic()
                    await engine.sweep(time.time() - stale_after)
            except (StoreUnavailable, CoordinationUnavailable):
                await self.set(False)
            except Exception:  # a bug must not stop health checks for good
                log.exception("a maintenance round failed")
