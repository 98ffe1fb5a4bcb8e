"""A moderator that calls a service, with the local filter standing in whenever the service
fails: a turn is never failed (nor stalled for long) because moderation is down.

After a failure the service is left alone for `cooldown` seconds (every check meanwhile is the
local filter's, at once), so a dead endpoint costs one timeout, not one per window.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from ..core.errors import NarratorError
from ..core.moderation import Verdict

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.models import ContentRating
    from ..core.moderation import Direction, Moderator
    from .metrics import ModerationMetrics

log = logging.getLogger(__name__)


class Remote(Protocol):
    """A moderator that raises `NarratorError` when its service fails."""

    name: str

    async def check(
        self, text: str, rating: ContentRating, direction: Direction, context: str = ""
    ) -> Verdict: ...


class FallbackModerator:
    """`remote` first; `local` when it fails or while it cools down (counted in
    narrator.moderation.fallbacks, by reason)."""

    instant = False

    def __init__(
        self,
        remote: Remote,
        local: Moderator,
        metrics: ModerationMetrics,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = remote.name
        self._remote = remote
        self._local = local
        self._metrics = metrics
        self._cooldown = cooldown
        self._clock = clock
        self._down_until = 0.0

    async def check(
        self, text: str, rating: ContentRating, direction: Direction, context: str = ""
    ) -> Verdict:
        if self._clock() < self._down_until:
            return await self._stand_in("cooling_down", text, rating, direction, context)
        try:
            return await self._remote.check(text, rating, direction, context)
        except NarratorError as error:
            if self._clock() >= self._down_until:  # one line per outage, not per check
                log.warning(
                    "moderation service failed; the local filter checks text for %g s",
                    self._cooldown,
                    extra={"moderator": self.name, "error": str(error)[:300]},
                )
            self._down_until = self._clock() + self._cooldown
            return await self._stand_in(type(error).__name__, text, rating, direction, context)

    async def _stand_in(
        self, reason: str, text: str, rating: ContentRating, direction: Direction, context: str
    ) -> Verdict:
        self._metrics.fell_back(self.name, reason)
        verdict = await self._local.check(text, rating, direction, context)
        return Verdict(verdict.category, f"{self._local.name} (for {self.name})")
