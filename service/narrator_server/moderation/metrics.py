"""The moderation metrics, and a moderator wrapper that records every check."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from opentelemetry.metrics import NoOpMeterProvider

from ..telemetry.distribution import Histograms
from ..telemetry.tally import Tally

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from ..core.models import ContentRating
    from ..core.moderation import Direction, Moderator, Verdict

_BUCKETS = (0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ModerationMetrics:
    """narrator.moderation.checks (by direction, source, outcome: allowed or the refused
    category), narrator.moderation.duration (seconds, by moderator) and
    narrator.moderation.fallbacks (by moderator and reason)."""

    def __init__(self, meter: Meter | None = None, histograms: Histograms | None = None) -> None:
        meter = meter or NoOpMeterProvider().get_meter("narrator")
        histograms = histograms or Histograms("narrator", active=False)
        self._checks = Tally(
            meter,
            "narrator.moderation.checks",
            unit="{check}",
            description="Moderation checks, by direction, source and outcome.",
        )
        self._duration = histograms.create(
            "narrator.moderation.duration",
            _BUCKETS,
            unit="s",
            description="Time one moderation check took, by moderator.",
        )
        self._fallbacks = Tally(
            meter,
            "narrator.moderation.fallbacks",
            unit="{check}",
            description="Checks the local filter made because the moderation service failed "
            "or was cooling down after a failure, by moderator and reason.",
        )

    def checked(
        self, moderator: str, direction: str, verdict: Verdict, seconds: float | None
    ) -> None:
        """One check counted; timed when `seconds` is given (a service's round trip)."""
        outcome = verdict.category or "allowed"
        self._checks.add(
            1,
            {
                "narrator.moderation.direction": direction,
                "narrator.moderation.source": verdict.source,
                "narrator.moderation.outcome": outcome,
            },
        )
        if seconds is not None:
            self._duration.record(seconds, {"narrator.moderation.moderator": moderator})

    def fell_back(self, moderator: str, reason: str) -> None:
        self._fallbacks.add(
            1, {"narrator.moderation.moderator": moderator, "narrator.moderation.reason": reason}
        )


class MeteredModerator:
    """`inner`, each check counted, and timed unless the moderator is instant."""

    def __init__(self, inner: Moderator, metrics: ModerationMetrics) -> None:
        self.name = inner.name
        self.instant = inner.instant
        self._inner = inner
        self._metrics = metrics

    async def check(
        self, text: str, rating: ContentRating, direction: Direction, context: str = ""
    ) -> Verdict:
        if self.instant:  # the local filter: its microseconds are not worth a histogram
            verdict = await self._inner.check(text, rating, direction, context)
            self._metrics.checked(self.name, direction.value, verdict, None)
            return verdict
        start = time.perf_counter()
        verdict = await self._inner.check(text, rating, direction, context)
        self._metrics.checked(self.name, direction.value, verdict, time.perf_counter() - start)
        return verdict
