"""The in-process quota counter: the embedded default, for one server (nothing is shared).

Every bucket is a number and the time it was last written; a rolling bucket drains as time
passes, a fixed one is forgotten when its window ends. Memory stays bounded: empty buckets
are swept every minute, and past `max_buckets` the least recently written ones go first.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..core.quotas import Denial

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..core.quotas import Charge, Limit

SWEEP_EVERY_S = 60.0


class LocalQuotaCounter:
    """`QuotaCounter` in this process's memory, on an injectable wall clock."""

    def __init__(self, clock: Callable[[], float] = time.time, max_buckets: int = 100_000) -> None:
        self._clock = clock
        self._max = max_buckets
        # bucket -> (used, when written, when it will hold nothing any more)
        self._buckets: dict[str, tuple[float, float, float]] = {}
        self._swept = clock()

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, charges: Sequence[Charge]) -> list[Denial]:
        now = self._clock()
        self._sweep(now)
        used = [self._used(limit, now) for limit, _ in charges]
        denials = [
            Denial(limit, self._wait(limit, u, amount, now))
            for (limit, amount), u in zip(charges, used, strict=True)
            if u + min(amount, limit.capacity) > limit.capacity
        ]
        if not denials:
            for (limit, amount), u in zip(charges, used, strict=True):
                self._write(limit, u + amount, now)
        return denials

    async def adjust(self, charges: Sequence[Charge]) -> None:
        now = self._clock()
        for limit, amount in charges:
            if limit.resets_at is not None and now >= limit.resets_at:
                continue  # that window is over; nothing to correct
            self._write(limit, max(0.0, self._used(limit, now) + amount), now)

    def _used(self, limit: Limit, now: float) -> float:
        used, at, _ = self._buckets.get(limit.bucket, (0.0, now, now))
        if limit.resets_at is not None:
            return used if now < limit.resets_at else 0.0
        return max(0.0, used - (now - at) * limit.capacity / 60.0)

    @staticmethod
    def _wait(limit: Limit, used: float, amount: int, now: float) -> float:
        if limit.resets_at is not None:
            return max(0.0, limit.resets_at - now)
        excess = used + min(amount, limit.capacity) - limit.capacity
        return excess * 60.0 / limit.capacity

    def _write(self, limit: Limit, used: float, now: float) -> None:
        if limit.resets_at is not None:
            empty_at = limit.resets_at
        else:
            empty_at = now + used * 60.0 / limit.capacity
        self._buckets.pop(limit.bucket, None)  # re-inserted last: dicts keep write order
        self._buckets[limit.bucket] = (used, now, empty_at)
        while len(self._buckets) > self._max:
            del self._buckets[next(iter(self._buckets))]

    def _sweep(self, now: float) -> None:
        """Forgets the buckets that hold nothing any more (drained, or their window ended)."""
        if now - self._swept < SWEEP_EVERY_S:
            return
        self._swept = now
        stale = [b for b, (_, _, empty_at) in self._buckets.items() if empty_at <= now]
        for bucket in stale:
            del self._buckets[bucket]
