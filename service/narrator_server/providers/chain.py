"""The provider chain: configured upstreams in order, each behind its circuit breaker, then
the offline narrator. A provider that fails before its first word hands over to the next."""

from __future__ import annotations

import logging
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.metrics import CallbackOptions, Observation

from ..core.breaker import BreakerState
from ..core.errors import (
    DeadlineExceeded,
    Overloaded,
    RequestRejected,
    UpstreamError,
    UpstreamMisconfigured,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from ..core.ports import StreamOpened
from ..telemetry import Telemetry
from ..telemetry.tally import Tally

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Iterable

    from ..core.breaker import CircuitBreaker
    from ..core.ports import ChatEvent, ChatProvider, ChatRequest

log = logging.getLogger(__name__)
MISCONFIGURED_LOG_INTERVAL_S = 60.0
_STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass
class Upstream:
    name: str
    provider: ChatProvider
    breaker: CircuitBreaker
    host: str = ""
    model: str = ""
    # Why the upstream refuses the server (bad key, unknown model), until it answers again.
    misconfigured: str = ""
    _logged_at: float = field(default=-MISCONFIGURED_LOG_INTERVAL_S, repr=False)

    def refused(self, error: Exception) -> None:
        """An ERROR the operator cannot miss: which upstream, where, which model, what to fix
        (repeated at most once a minute while it lasts)."""
        first = not self.misconfigured
        self.misconfigured = str(error)
        now = time.monotonic()
        if first or now - self._logged_at >= MISCONFIGURED_LOG_INTERVAL_S:
            self._logged_at = now
            log.error(
                "upstream refuses the server: fix its API key, access or model name",
                extra={"upstream": self.name, "host": self.host, "model": self.model,
                       "error": self.misconfigured},
            )  # fmt: skip


class UpstreamSlots:
    """A cap on concurrent upstream requests; past it an upstream is skipped, not queued."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def take(self, background: bool = False) -> bool:
        # Background requests (summaries) leave half the slots to the players' turns.
        if self.in_use >= (self.limit // 2 if background else self.limit):
            return False
        self.in_use += 1
        return True

    def give(self) -> None:
        self.in_use -= 1


def _pick_error(errors: list[Exception]) -> Exception:
    """The error that tells the client most: rate limits (with their wait), then deadline,
    then local overload, then unavailability."""
    for kind in (UpstreamRateLimited, DeadlineExceeded, Overloaded, UpstreamError):
        found = [e for e in errors if isinstance(e, kind)]
        if found:
            if kind is UpstreamRateLimited:
                return min(found, key=lambda e: getattr(e, "retry_after", None) or 0.0)
            return found[-1]
    return UpstreamUnavailable("no upstream is available (every circuit breaker is open)")


class ProviderChain:
    """A `ChatProvider` over upstreams in order, then (optionally) the offline narrator."""

    def __init__(
        self,
        upstreams: list[Upstream],
        offline: ChatProvider | None,
        slots: UpstreamSlots,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.upstreams = upstreams
        self.offline = offline
        self._slots = slots
        self._telemetry = telemetry or Telemetry.disabled()
        # Told when a breaker opens here (a deployment shares it: `breaker_sync`).
        self.on_open: Callable[[Upstream], None] | None = None
        meter = self._telemetry.meter
        meter.create_observable_gauge(
            "narrator.upstream.breaker_state",
            callbacks=[self._breaker_states],
            description="Circuit breaker of each upstream: 0 closed, 1 half-open, 2 open.",
        )
        meter.create_observable_gauge(
            "narrator.upstream.misconfigured",
            callbacks=[self._misconfigured],
            description="1 while an upstream refuses the server (HTTP 401/403/404), else 0.",
        )
        self._refusals = Tally(
            meter,
            "narrator.upstream.refusals",
            unit="{request}",
            description="Upstream requests refused as misconfigured (HTTP 401/403/404).",
        )

    def _breaker_states(self, options: CallbackOptions) -> Iterable[Observation]:
        for upstream in self.upstreams:
            state = _STATE_VALUES[upstream.breaker.state]
            yield Observation(state, {"upstream": upstream.name})

    def _misconfigured(self, options: CallbackOptions) -> Iterable[Observation]:
        for upstream in self.upstreams:
            yield Observation(int(bool(upstream.misconfigured)), {"upstream": upstream.name})

    async def probe(self) -> None:
        """Asks each upstream once, at start, whether it accepts the server (its key, its
        model): a refusal is logged and shown in health and /metrics before any turn."""
        for upstream in self.upstreams:
            probe = getattr(upstream.provider, "probe", None)
            if probe is None:
                continue
            try:
                await probe()
            except UpstreamMisconfigured as error:
                self._refused(upstream, error)
            except Exception as error:
                log.warning(
                    "upstream could not be checked at start",
                    extra={"upstream": upstream.name, "host": upstream.host, "error": str(error)},
                )

    def _refused(self, upstream: Upstream, error: Exception) -> None:
        upstream.refused(error)
        self._refusals.add(1, {"upstream": upstream.name})

    @staticmethod
    def _skipped(span: trace.Span, upstream: Upstream, reason: str) -> None:
        span.add_event("narrator.upstream_skipped", {"upstream": upstream.name, "reason": reason})

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        span = trace.get_current_span()
        errors: list[Exception] = []
        # A turn's last recovery goes to the offline narrator when there is one: it cannot fail.
        upstreams = [] if request.last_chance and self.offline else self.upstreams
        for upstream in upstreams:
            if not upstream.breaker.allow():
                self._skipped(span, upstream, "breaker_open")
                continue
            if not self._slots.take(request.background):
                upstream.breaker.abandon()
                self._skipped(span, upstream, "busy")
                errors.append(Overloaded("every upstream request slot is taken"))
                continue
            opened, verdict = False, False
            try:
                async with aclosing(upstream.provider.stream(request)) as events:
                    async for event in events:
                        if isinstance(event, StreamOpened):
                            opened = True
                            self._note_recovery(request, event)
                        yield event
                upstream.breaker.success()
                upstream.misconfigured = ""
                verdict = True
                return
            except (UpstreamError, DeadlineExceeded) as error:
                if isinstance(error, RequestRejected):
                    raise  # the request's own content: back to its caller, no breaker, no fallback
                if isinstance(error, UpstreamMisconfigured):
                    self._refused(upstream, error)
                # A deadline too short to wait for is the caller's budget, not the upstream's fault.
                if not isinstance(error, DeadlineExceeded):
                    verdict = True
                    if upstream.breaker.failure():
                        if self.on_open is not None:
                            self.on_open(upstream)
                        span.add_event("narrator.breaker_opened", {"upstream": upstream.name})
                        log.error(
                            "circuit breaker opened",
                            extra={"upstream": upstream.name, "error_type": type(error).__name__},
                        )
                if opened:
                    raise
                errors.append(error)
                log.warning(
                    "upstream failed before its first word",
                    extra={"upstream": upstream.name, "error_type": type(error).__name__},
                )
            finally:
                self._slots.give()
                if not verdict:
                    upstream.breaker.abandon()
        if self.offline is None or request.background:
            raise _pick_error(errors)
        if request.last_chance and self.upstreams:
            # Not a failure of the upstreams: a turn's last recovery always goes offline.
            span.add_event("narrator.fallback", {"error.type": "LastChance"})
            self._telemetry.fallbacks.add(1, {"error.type": "LastChance"})
            log.warning(
                "the turn's last recovery goes to the offline narrator",
                extra={"turn_id": request.context.turn_id},
            )
        elif self.upstreams:
            reason = type(errors[-1]).__name__ if errors else "BreakersOpen"
            span.add_event("narrator.fallback", {"error.type": reason})
            self._telemetry.fallbacks.add(1, {"error.type": reason})
            log.warning(
                "no upstream could answer; the offline narrator takes over",
                extra={"error_type": reason, "turn_id": request.context.turn_id},
            )
        async with aclosing(self.offline.stream(request)) as events:
            async for event in events:
                if isinstance(event, StreamOpened):
                    self._note_recovery(request, event)
                yield event

    def _note_recovery(self, request: ChatRequest, opened: StreamOpened) -> None:
        if request.continuation or request.last_chance:
            self._telemetry.recoveries.add(1, {"narrator.provider": opened.provider})
