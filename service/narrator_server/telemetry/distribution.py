"""Histograms summed in the process and written into /metrics when it is scraped.

OpenTelemetry's `Histogram.record` cleans and hashes its attributes and builds a measurement
for every value: about 15 µs each on a quiet process, five to eight times a turn, and with the
spans the larger part of what telemetry costs a turn. A `Distribution` counts the value into
its bucket under its attributes (a frozenset: one dictionary update), and
`DistributionCollector` writes each distribution at a scrape exactly as the OpenTelemetry
Prometheus exporter writes a histogram: the same family name and unit suffix, labels
(sanitized, with the `otel_scope_*` ones, sorted, missing ones empty) and buckets.
"""

from __future__ import annotations

import bisect
import json
import threading
from typing import TYPE_CHECKING

from opentelemetry.exporter.prometheus._mapping import (
    map_unit,
    sanitize_attribute,
    sanitize_full_name,
)
from opentelemetry.util.types import AttributeValue
from prometheus_client.core import HistogramMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

Attributes = frozenset[tuple[str, AttributeValue]]
_NONE: Attributes = frozenset()
# OpenTelemetry's default limit of attribute sets per metric: past it, values go to one more
# series marked as the overflow (attribute values can come from an upstream, e.g. a model).
CARDINALITY_LIMIT = 2000
OVERFLOW: Attributes = frozenset({("otel.metric.overflow", True)})


class Distribution:
    """An explicit-bucket histogram; `record` has the signature of OpenTelemetry's
    `Histogram.record` (without a context). Negative amounts are dropped, as there."""

    def __init__(
        self,
        name: str,
        boundaries: Sequence[float],
        *,
        unit: str = "",
        description: str = "",
        active: bool = True,
    ) -> None:
        self.name = name
        self.unit = unit
        self.description = description
        self.boundaries = tuple(boundaries)
        self._active = active
        self._series: dict[Attributes, tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()  # a scrape reads from the metrics server's thread

    def record(self, amount: float, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        if not self._active or amount < 0:
            return
        key = frozenset(attributes.items()) if attributes else _NONE
        bucket = bisect.bisect_left(self.boundaries, amount)  # (lower, upper], as OpenTelemetry
        with self._lock:
            series = self._series.get(key)
            if series is None and len(self._series) >= CARDINALITY_LIMIT:
                key = OVERFLOW
                series = self._series.get(key)
            if series is None:
                series = self._series[key] = ([0] * (len(self.boundaries) + 1), [0.0])
            series[0][bucket] += 1
            series[1][0] += amount

    def snapshot(self) -> list[tuple[Attributes, list[int], float]]:
        """Every series: its attributes, bucket counts (the last one above every boundary)
        and sum."""
        with self._lock:
            return [(key, list(counts), total[0]) for key, (counts, total) in self._series.items()]


class Histograms:
    """The distributions of one telemetry scope, made here so that one collector writes them."""

    def __init__(self, scope: str, *, active: bool = True) -> None:
        self.scope = scope
        self._active = active
        self.made: list[Distribution] = []

    def create(
        self, name: str, boundaries: Sequence[float], *, unit: str = "", description: str = ""
    ) -> Distribution:
        made = Distribution(
            name, boundaries, unit=unit, description=description, active=self._active
        )
        self.made.append(made)
        return made


def _label(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class DistributionCollector:
    """A `prometheus_client` collector of `histograms`, written as the OpenTelemetry
    Prometheus exporter writes a histogram of their scope."""

    def __init__(self, histograms: Histograms) -> None:
        self._histograms = histograms

    def collect(self) -> Iterator[HistogramMetricFamily]:
        scope = {"otel_scope_name": self._histograms.scope, "otel_scope_version": "",
                 "otel_scope_schema_url": ""}  # fmt: skip
        for distribution in self._histograms.made:
            family = _family(distribution, scope)
            if family is not None:
                yield family


def _family(d: Distribution, scope: dict[str, str]) -> HistogramMetricFamily | None:
    rows: list[tuple[dict[str, str], list[int], float]] = []
    keys: set[str] = set()
    for attributes, counts, total in d.snapshot():
        labels = dict(scope)
        for key, value in attributes:
            labels[sanitize_attribute(key)] = _label(value)
        keys.update(labels)
        rows.append((labels, counts, total))
    if not rows:
        return None
    label_keys = sorted(keys)
    family = HistogramMetricFamily(
        sanitize_full_name(d.name), d.description, labels=label_keys, unit=map_unit(d.unit)
    )
    bounds = [f"{b}" for b in d.boundaries] + ["+Inf"]
    for labels, counts, total in rows:
        running, buckets = 0, []
        for bound, count in zip(bounds, counts, strict=True):
            running += count
            buckets.append((bound, running))
        family.add_metric([labels.get(k, "") for k in label_keys], buckets, total)
    return family
