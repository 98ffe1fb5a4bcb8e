"""Tallies: counters summed in the process, read by the metric reader at collection."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from narrator_server.telemetry.distribution import CARDINALITY_LIMIT
from narrator_server.telemetry.tally import Tally


def collected(reader: InMemoryMetricReader) -> dict[str, Any]:
    data = reader.get_metrics_data()
    assert data is not None
    out: dict[str, Any] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = {
                    tuple(sorted((p.attributes or {}).items())): p.value
                    for p in metric.data.data_points  # type: ignore[union-attr]
                }
                out[metric.name] = (metric.data.is_monotonic, points)  # type: ignore[union-attr]
    return out


def test_sums_by_attributes_whatever_their_order_and_reports_them_at_collection() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    checks = Tally(meter, "checks", unit="{check}")
    streams = Tally(meter, "streams", up_down=True)
    checks.add(1, {"direction": "input", "outcome": "allowed"})
    checks.add(2, {"outcome": "allowed", "direction": "input"})
    checks.add(1, {"direction": "output", "outcome": "violence"})
    checks.add(1)
    streams.add(1, {"rpc": "Narrate"})
    streams.add(1, {"rpc": "Narrate"})
    streams.add(-1, {"rpc": "Narrate"})

    assert checks.value({"outcome": "allowed", "direction": "input"}) == 3
    assert checks.value({"direction": "nowhere"}) == 0
    assert collected(reader) == {
        "checks": (
            True,
            {
                (("direction", "input"), ("outcome", "allowed")): 3,
                (("direction", "output"), ("outcome", "violence")): 1,
                (): 1,
            },
        ),
        "streams": (False, {(("rpc", "Narrate"),): 1}),
    }
    checks.add(5, {"direction": "output", "outcome": "violence"})
    assert collected(reader)["checks"][1][(("direction", "output"), ("outcome", "violence"))] == 6


def test_past_the_cardinality_limit_sums_go_to_one_overflow_entry() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    outcomes = Tally(meter, "checks")
    # A moderation service that names a new category for every refusal.
    for i in range(CARDINALITY_LIMIT + 50):
        outcomes.add(1, {"outcome": f"category-{i}"})
    outcomes.add(1, {"outcome": "category-7"})  # one already summed is still its own
    assert outcomes.value({"outcome": "category-7"}) == 2
    assert outcomes.value({"otel.metric.overflow": True}) == 50  # type: ignore[dict-item]
    points = collected(reader)["checks"][1]
    assert len(points) == CARDINALITY_LIMIT + 1
    assert points[(("otel.metric.overflow", True),)] == 50
