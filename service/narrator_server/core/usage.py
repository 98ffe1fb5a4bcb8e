"""Per-key accounting: requests, tokens, last use and quota denials.

The book counts in memory on the hot path (no I/O per RPC); `flush` writes what accumulated
to the key store in one batch per UTC day, and the running totals feed the per-key metrics.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from .keys import KeyUsage

if TYPE_CHECKING:
    from collections.abc import Callable

    from .keys import KeyStore
    from .models import Usage

log = logging.getLogger(__name__)


def utc_day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


class UsageBook:
    """What each key did since the server started (`totals`, `denials`) and since the last
    flush (pending, by UTC day)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.totals: dict[str, KeyUsage] = defaultdict(KeyUsage)
        self.denials: dict[tuple[str, str], int] = defaultdict(int)
        self._pending: dict[tuple[str, str], KeyUsage] = defaultdict(KeyUsage)
        self._last_used: dict[str, float] = {}
        self._day: tuple[int, str] = (-1, "")  # the UTC day number and its name, cached

    def _add(self, key_id: str, amount: KeyUsage) -> None:
        self.totals[key_id] += amount
        self._pending[(self._today(), key_id)] += amount

    def _today(self) -> str:
        day = int(self._clock() // 86_400)
        if day != self._day[0]:
            self._day = (day, utc_day(day * 86_400))
        return self._day[1]

    def request(self, key_id: str) -> None:
        """One admitted request of the key (the open mode's "" is not counted)."""
        if key_id:
            self._add(key_id, KeyUsage(requests=1))

    def tokens(self, key_id: str, usage: Usage) -> None:
        if key_id and (usage.input_tokens or usage.output_tokens):
            self._add(key_id, KeyUsage(0, usage.input_tokens, usage.output_tokens))

    def used(self, key_id: str) -> None:
        """The key authenticated a call just now."""
        self._last_used[key_id] = self._clock()

    def denied(self, key_id: str, limit: str) -> None:
        if key_id:
            self.denials[(key_id, limit)] += 1

    @property
    def pending(self) -> bool:
        return bool(self._pending or self._last_used)

    async def flush(self, store: KeyStore) -> None:
        """Writes the pending usage (one call per UTC day in it); kept for the next flush
        when the store cannot take it."""
        pending, self._pending = self._pending, defaultdict(KeyUsage)
        last_used, self._last_used = self._last_used, {}
        days: dict[str, dict[str, KeyUsage]] = defaultdict(dict)
        for (day, key_id), amount in pending.items():
            days[day][key_id] = amount
        if not days and last_used:
            days[self._today()] = {}
        try:
            for day in sorted(days):
                await store.add_key_usage(day, days[day], last_used)
                del days[day]
                last_used = {}
        except BaseException:
            for day, amounts in days.items():
                for key_id, amount in amounts.items():
                    self._pending[(day, key_id)] += amount
            for key_id, at in last_used.items():
                self._last_used.setdefault(key_id, at)
            raise
