"""A circuit breaker per upstream: pure state, no I/O, an injectable clock; and the port through
which the servers of a deployment share when an upstream's breaker opened."""

from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


# Openings whose ends differ by less than this are the same one, seen through Redis's latency.
_SAME_OPENING_S = 1.0


class BreakerState(enum.Enum):
    CLOSED = "closed"  # requests flow
    OPEN = "open"  # requests are skipped until the cooldown passes
    HALF_OPEN = "half_open"  # one probe request decides


@dataclass(frozen=True)
class BreakerPolicy:
    consecutive_failures: int = 5
    failure_rate: float = 0.5  # over the last `window` calls, once `min_calls` were seen
    window: int = 20
    min_calls: int = 10
    cooldown: float = 30.0


class CircuitBreaker:
    """Opens after consecutive failures or a failure rate; after the cooldown lets one probe
    through (half-open); closes on its success, opens again on its failure."""

    def __init__(
        self, policy: BreakerPolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self.state = BreakerState.CLOSED
        self._outcomes: deque[bool] = deque(maxlen=self.policy.window)
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False

    def allow(self) -> bool:
        """May a request go to this upstream now? (Half-open: only the one probe.)"""
        if self.state is BreakerState.OPEN:
            if self._clock() - self._opened_at < self.policy.cooldown:
                return False
            self.state, self._probing = BreakerState.HALF_OPEN, False
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                return False
            self._probing = True
        return True

    def success(self) -> None:
        self._consecutive = 0
        self._outcomes.append(True)
        if self.state is BreakerState.HALF_OPEN:
            self.state, self._probing = BreakerState.CLOSED, False
            self._outcomes.clear()

    def failure(self) -> bool:
        """Records a failure; True when it opened the breaker."""
        self._consecutive += 1
        self._outcomes.append(False)
        if self.state is not BreakerState.OPEN and (
            self.state is BreakerState.HALF_OPEN or self._tripped()
        ):
            self.state, self._opened_at, self._probing = BreakerState.OPEN, self._clock(), False
            return True
        return False

    def adopt_open(self, remaining: float) -> bool:
        """Another server opened this upstream's breaker, for `remaining` more seconds: skip
        it here too. True when that changed this breaker (it was not open as long already)."""
        now = self._clock()
        if self.state is BreakerState.OPEN and self._opened_at + self.policy.cooldown >= (
            now + remaining - _SAME_OPENING_S
        ):
            return False  # open here as long already (e.g. this server's own opening)
        opened_at = now - max(0.0, self.policy.cooldown - remaining)
        self.state, self._opened_at, self._probing = BreakerState.OPEN, opened_at, False
        return True

    def abandon(self) -> None:
        """The request ended without a verdict (the client cancelled): free the probe."""
        self._probing = False

    def _tripped(self) -> bool:
        p = self.policy
        if self._consecutive >= p.consecutive_failures:
            return True
        seen = len(self._outcomes)
        return seen >= p.min_calls and self._outcomes.count(False) / seen >= p.failure_rate


class SharedBreakers(Protocol):
    """Breaker openings shared by the servers of a deployment, so that every server stops
    calling an upstream as soon as one of them found it dead. Each server keeps its own
    `CircuitBreaker` (its own counts and its own probe after the cooldown)."""

    async def publish_open(self, upstream: str, cooldown: float) -> None:
        """This server opened the upstream's breaker for `cooldown` seconds."""

    async def open_upstreams(self, upstreams: Sequence[str]) -> dict[str, float]:
        """The upstreams some server opened, with the seconds of cooldown left."""
