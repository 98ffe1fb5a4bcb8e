"""Quotas: which limits a call is charged against (the policy) and the counter port.

Per key: requests per minute, output tokens per minute, tokens (input + output) per UTC day.
Per player: requests per minute, where the player is the one the game's backend names, else
the session. A request is admitted or refused before any work. A turn reserves its request's
`max_tokens` (and, for the daily budget, its estimated input too) before the upstream call and
settles to the real usage when it ends, however it ends: parallel turns cannot overshoot a
budget by more than one turn's extra requests (a mid-stream recovery or a decision's repair).
"""

from __future__ import annotations

import calendar
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .errors import QuotaExceeded, QuotaViolation
from .models import Usage
from .prompt import estimate_tokens
from .usage import UsageBook, utc_day

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .models import Caller
    from .ports import ChatRequest

log = logging.getLogger(__name__)

REQUESTS_PER_MINUTE = "requests_per_minute"
TOKENS_PER_MINUTE = "tokens_per_minute"
TOKENS_PER_DAY = "tokens_per_day"
PLAYER_REQUESTS_PER_MINUTE = "player_requests_per_minute"
DAY_S = 86_400


@dataclass(frozen=True)
class Limit:
    """One limit on one subject.

    `resets_at` None: a rolling minute. The amount used drains continuously at
    `capacity / 60` per second, and a charge fits while the amount used plus the charge stays
    within `capacity`. A charge larger than the whole capacity fits only when nothing is used.
    `resets_at` set: a fixed window whose count starts again from 0 at that wall-clock time
    (the UTC day); a charge fits while the count plus the charge stays within `capacity`
    (again, a larger charge fits an empty window only).
    """

    name: str  # which limit, as QuotaFailure names it
    subject: str  # whose, as QuotaFailure names it: "key:ID", "player:NAME", "session:ID"
    bucket: str  # the counter's key: unique for this subject, limit and window
    capacity: int
    resets_at: float | None = None


@dataclass(frozen=True)
class Denial:
    limit: Limit
    retry_after: float  # seconds until the charge would fit


Charge = tuple[Limit, int]


class QuotaCounter(Protocol):
    """Counts usage against limits, atomically across every server that shares it."""

    async def take(self, charges: Sequence[Charge]) -> list[Denial]:
        """Charges every amount to its limit, or none of them: when any would go over, returns
        the ones that would (each with when it frees enough) and charges nothing."""

    async def adjust(self, charges: Sequence[Charge]) -> None:
        """Adds amounts (or gives them back, when negative) without a check: the difference
        between a reservation and what was really used."""


class Reservation:
    """Tokens held for one turn until it ends; `settle` once with what the turn used."""

    def __init__(
        self,
        quotas: Quotas | None,
        key_id: str,
        charges: Sequence[Charge],
        output_tokens: int,
        input_tokens: int,
    ) -> None:
        self._quotas = quotas
        self._key_id = key_id
        self._charges = charges
        self._output = output_tokens
        self._total = output_tokens + input_tokens
        self.settled = False

    async def settle(self, usage: Usage) -> None:
        """Replaces the reservation with the real usage, once (later calls do nothing). A
        counter that fails is logged: the reservation then lapses with its window."""
        if self.settled or self._quotas is None:
            return
        self.settled = True
        self._quotas.usage.tokens(self._key_id, usage)
        real = {
            TOKENS_PER_MINUTE: usage.output_tokens - self._output,
            TOKENS_PER_DAY: usage.input_tokens + usage.output_tokens - self._total,
        }
        adjust = [(limit, real[limit.name]) for limit, _ in self._charges if real[limit.name]]
        if adjust:
            try:
                await self._quotas.counter.adjust(adjust)
            except Exception:
                log.exception("a quota reservation could not be settled")

    async def release(self) -> None:
        """The turn never ran: gives everything back."""
        await self.settle(Usage())


NOTHING_RESERVED = Reservation(None, "", (), 0, 0)


class Quotas:
    """The quota policy over a `QuotaCounter`; every admitted or denied call is booked."""

    def __init__(
        self,
        counter: QuotaCounter,
        usage: UsageBook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counter = counter
        self.usage = usage or UsageBook(clock)
        self._clock = clock

    async def admit(self, caller: Caller, session_id: str = "") -> None:
        """One request of the caller: its key's requests per minute and its player's (the
        named player, else the session's). Raises `QuotaExceeded`."""
        limits, key = caller.limits, f"key:{caller.key_id}"
        charges: list[Charge] = []
        if limits.requests_per_minute:
            charges.append(
                (Limit(REQUESTS_PER_MINUTE, key, f"rpm/{key}", limits.requests_per_minute), 1)
            )
        subject = _player_subject(caller.player, session_id)
        if limits.player_requests_per_minute and subject:
            bucket = f"prpm/{caller.tenant}/{subject}"
            limit = Limit(PLAYER_REQUESTS_PER_MINUTE, subject, bucket,
                          limits.player_requests_per_minute)  # fmt: skip
            charges.append((limit, 1))
        if charges:
            await self._take(caller, charges)
        self.usage.request(caller.key_id)

    async def reserve(self, caller: Caller, output_tokens: int, input_tokens: int) -> Reservation:
        """Holds a turn's tokens before its upstream request. Raises `QuotaExceeded`."""
        if not caller.key_id:
            return NOTHING_RESERVED
        limits, key = caller.limits, f"key:{caller.key_id}"
        charges: list[Charge] = []
        if limits.tokens_per_minute:
            limit = Limit(TOKENS_PER_MINUTE, key, f"tpm/{key}", limits.tokens_per_minute)
            charges.append((limit, output_tokens))
        if limits.tokens_per_day:
            now = self._clock()
            resets_at = _next_utc_midnight(now)
            bucket = f"tpd/{key}/{utc_day(now)}"
            limit = Limit(TOKENS_PER_DAY, key, bucket, limits.tokens_per_day, resets_at)
            charges.append((limit, output_tokens + input_tokens))
        if charges:
            await self._take(caller, charges)
        return Reservation(self, caller.key_id, charges, output_tokens, input_tokens)

    async def _take(self, caller: Caller, charges: list[Charge]) -> None:
        denials = await self.counter.take(charges)
        if not denials:
            return
        for denial in denials:
            self.usage.denied(caller.key_id, denial.limit.name)
        raise QuotaExceeded(
            [_violation(d) for d in denials], max(0.001, min(d.retry_after for d in denials))
        )


async def reserve_turn(quotas: Quotas | None, caller: Caller, request: ChatRequest) -> Reservation:
    """A turn's reservation: its request's `max_tokens`, plus its prompt's estimated tokens
    for the daily budget."""
    if quotas is None or not caller.key_id:
        return NOTHING_RESERVED
    prompt = sum(estimate_tokens(m.content) for m in request.messages)
    return await quotas.reserve(caller, request.max_tokens, prompt)


def _player_subject(player: str, session_id: str) -> str:
    if player:
        return f"player:{player}"
    return f"session:{session_id[:128]}" if session_id else ""


def _next_utc_midnight(now: float) -> float:
    day = time.gmtime(now)
    return calendar.timegm((day.tm_year, day.tm_mon, day.tm_mday, 0, 0, 0)) + DAY_S


_UNITS = {
    REQUESTS_PER_MINUTE: "requests per minute",
    PLAYER_REQUESTS_PER_MINUTE: "requests per minute",
    TOKENS_PER_MINUTE: "output tokens per minute",
    TOKENS_PER_DAY: "tokens per day (UTC)",
}


def _violation(denial: Denial) -> QuotaViolation:
    limit = denial.limit
    return QuotaViolation(
        limit.name,
        limit.subject,
        limit.capacity,
        f"{limit.subject} is over its quota of {limit.capacity} {_UNITS[limit.name]}; "
        f"retry in {denial.retry_after:.1f} s",
    )
