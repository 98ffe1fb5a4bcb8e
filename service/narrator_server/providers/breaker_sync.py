"""Keeps this server's circuit breakers in step with the deployment's (`SharedBreakers`).

A breaker that opens here is published at once; every `interval` seconds the breakers other
servers opened are adopted here. While the shared state cannot be reached, each server's
breakers go on on their own. After the cooldown each server sends its own single probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from ..core.errors import CoordinationUnavailable
from ..shared.redis_client import stop_tasks

if TYPE_CHECKING:
    from ..core.breaker import SharedBreakers
    from .chain import Upstream

log = logging.getLogger(__name__)


class BreakerSync:
    def __init__(
        self, upstreams: list[Upstream], shared: SharedBreakers, interval: float = 0.5
    ) -> None:
        self._upstreams = {u.name: u for u in upstreams}
        self._shared = shared
        self._interval = interval
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._upstreams and self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(self._run(), name="breaker-sync")

    def opened(self, upstream: Upstream) -> None:
        """The chain opened this upstream's breaker here: tell the other servers."""
        task = asyncio.get_running_loop().create_task(self._publish(upstream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, upstream: Upstream) -> None:
        try:
            await self._shared.publish_open(upstream.name, upstream.breaker.policy.cooldown)
        except CoordinationUnavailable:
            log.warning("an open breaker could not be shared", extra={"upstream": upstream.name})

    async def sync_now(self) -> None:
        """Adopts the breakers other servers opened."""
        opened = await self._shared.open_upstreams(list(self._upstreams))
        for name, remaining in opened.items():
            if self._upstreams[name].breaker.adopt_open(remaining):
                log.warning(
                    "circuit breaker opened by another server",
                    extra={"upstream": name, "remaining_s": round(remaining, 3)},
                )

    async def _run(self) -> None:
        while self._loop is not None:
            await asyncio.sleep(self._interval)
            with contextlib.suppress(CoordinationUnavailable):
                await self.sync_now()

    async def close(self) -> None:
        tasks = [t for t in (self._loop, *self._tasks) if t is not None]
        self._loop = None
        await stop_tasks(tasks)
