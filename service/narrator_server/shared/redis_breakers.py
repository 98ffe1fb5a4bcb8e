"""`SharedBreakers` on Redis: one key per open upstream, expiring with its cooldown (Redis's
clock counts it down, so the servers' clocks need not agree)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .redis_client import translated

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .redis_client import Redis


class RedisBreakers:
    def __init__(self, redis: Redis, prefix: str = "narrator") -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, upstream: str) -> str:
        return f"{self._prefix}:breaker:{upstream}"

    async def publish_open(self, upstream: str, cooldown: float) -> None:
        with translated():
            await self._redis.set(self._key(upstream), "open", px=max(1, int(cooldown * 1000)))

    async def open_upstreams(self, upstreams: Sequence[str]) -> dict[str, float]:
        if not upstreams:
            return {}
        with translated():
            pipe = self._redis.pipeline(transaction=False)
            for name in upstreams:
                pipe.pttl(self._key(name))
            left = await pipe.execute()
        return {name: ms / 1000 for name, ms in zip(upstreams, left, strict=True) if ms > 0}
