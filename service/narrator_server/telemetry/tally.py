"""Counters summed in the process and read when /metrics is scraped.

A synchronous OpenTelemetry counter does its aggregation work on every `add` (attribute
cleaning, hashing, view matching): tens of microseconds, several times a turn. A `Tally` adds
to a dict entry instead and reports the sums through an observable instrument, so the hot
path pays a dictionary update and the exporter pays the rest once per scrape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.metrics import CallbackOptions, Observation

from .distribution import CARDINALITY_LIMIT, OVERFLOW, Attributes

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from opentelemetry.metrics import Meter


class Tally:
    """A monotonic (`create_counter`) or up-down (`create_up_down_counter`) sum by attributes;
    `add` has the signature of OpenTelemetry's `Counter.add`."""

    def __init__(
        self,
        meter: Meter,
        name: str,
        *,
        unit: str = "",
        description: str = "",
        up_down: bool = False,
    ) -> None:
        self._sums: dict[Attributes, int | float] = {}
        create = (
            meter.create_observable_up_down_counter if up_down else meter.create_observable_counter
        )
        create(name, callbacks=[self._observe], unit=unit, description=description)

    def add(self, amount: int | float, attributes: Mapping[str, str] | None = None) -> None:
        key: Attributes = frozenset(attributes.items()) if attributes else frozenset()
        sums = self._sums
        if key not in sums and len(sums) >= CARDINALITY_LIMIT:
            key = OVERFLOW  # as OpenTelemetry's limit does: the sums stay bounded
        sums[key] = sums.get(key, 0) + amount

    def value(self, attributes: Mapping[str, str] | None = None) -> int | float:
        """The sum for exactly these attributes (0 when never added)."""
        return self._sums.get(frozenset(attributes.items()) if attributes else frozenset(), 0)

    def _observe(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(total, dict(key)) for key, total in list(self._sums.items())]
