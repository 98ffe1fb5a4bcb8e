"""Distributions: histograms summed in the process, written into /metrics at a scrape exactly
as the OpenTelemetry Prometheus exporter writes the same measurements."""

from __future__ import annotations

import threading

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from narrator_server.moderation.metrics import ModerationMetrics
from narrator_server.telemetry.distribution import (
    CARDINALITY_LIMIT,
    Distribution,
    DistributionCollector,
    Histograms,
)
from narrator_server.telemetry.instruments import SCOPE, Telemetry

Records = list[tuple[str, float, dict[str, object]]]


def families(text: str) -> dict[str, list[str]]:
    """Each family's lines (its HELP, TYPE and samples), by name; target_info left out."""
    found: dict[str, list[str]] = {}
    name = ""
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
        found.setdefault(name, []).append(line)
    found.pop("target_info", None)
    return found


def exported_by_opentelemetry(made: list[Distribution], records: Records) -> dict[str, list[str]]:
    registry = CollectorRegistry(auto_describe=True)
    reader = PrometheusMetricReader(registry=registry)
    provider = MeterProvider(metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter())
    meter = provider.get_meter(SCOPE)
    instruments = {
        d.name: meter.create_histogram(
            d.name,
            unit=d.unit,
            description=d.description,
            explicit_bucket_boundaries_advisory=d.boundaries,
        )
        for d in made
    }
    for name, amount, attributes in records:
        instruments[name].record(amount, attributes)  # type: ignore[arg-type]
    try:
        return families(generate_latest(registry).decode())
    finally:
        provider.shutdown()


def exported_here(histograms: Histograms, records: Records) -> dict[str, list[str]]:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(DistributionCollector(histograms))
    by_name = {d.name: d for d in histograms.made}
    for name, amount, attributes in records:
        by_name[name].record(amount, attributes)
    return families(generate_latest(registry).decode())


def test_the_service_s_histograms_are_written_as_the_opentelemetry_exporter_writes_them() -> None:
    telemetry = Telemetry.disabled()  # only for the instruments' definitions
    histograms = Histograms(SCOPE)
    for d in telemetry.histograms.made:
        histograms.create(d.name, d.boundaries, unit=d.unit, description=d.description)
    ModerationMetrics(histograms=histograms)
    model = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    records: Records = [
        ("gen_ai.client.token.usage", 900, {**model, "gen_ai.token.type": "input"}),
        ("gen_ai.client.token.usage", 16, {**model, "gen_ai.token.type": "input"}),  # a bound
        ("gen_ai.client.token.usage", 70_000, {**model, "gen_ai.token.type": "output"}),  # above
        ("gen_ai.client.token.usage", 0, {"gen_ai.token.type": "cached_input"}),  # fewer labels
        ("gen_ai.client.operation.duration", 0.0075, model),
        ("gen_ai.client.operation.duration", 0.005, {**model, "error.type": "Timeout"}),
        ("gen_ai.client.operation.duration", -1.0, model),  # dropped by both
        ("gen_ai.client.operation.time_to_first_chunk", 0.3, model),
        ("rpc.server.duration", 0.012, {"rpc.method": "Narrate", "rpc.grpc.status_code": "OK"}),
        ("rpc.server.duration", 2, {"rpc.method": "Narrate", "rpc.grpc.status_code": "OK"}),
        ("narrator.moderation.duration", 0.0001, {"narrator.moderation.moderator": "openai"}),
        ("narrator.moderation.duration", 0.02, {"retried": True, "attempt": 2}),  # not strings
    ]
    assert len(histograms.made) == 6
    ours = exported_here(histograms, records)
    theirs = exported_by_opentelemetry(histograms.made, records)
    assert ours == theirs
    # What is compared holds something: one family per histogram that saw a value.
    assert len(ours) == 5
    counts = [
        x
        for x in ours["gen_ai_client_token_usage"]
        if x.startswith("gen_ai_client_token_usage_count")
    ]
    assert any('gen_ai_token_type="input"' in x and x.endswith(" 2.0") for x in counts)


def test_past_the_cardinality_limit_values_go_to_one_overflow_series_as_in_opentelemetry() -> None:
    histograms = Histograms(SCOPE)
    latency = histograms.create("latency", (0.1, 1.0), unit="s", description="Latency.")
    # One attribute set a record, e.g. a model name an upstream made up for every answer.
    records: Records = [
        ("latency", 0.05 * (i % 30), {"gen_ai.response.model": f"m{i}"})
        for i in range(CARDINALITY_LIMIT + 50)
    ]
    ours = exported_here(histograms, records)
    assert ours == exported_by_opentelemetry([latency], records)
    assert len(latency.snapshot()) == CARDINALITY_LIMIT + 1
    overflow = [x for x in ours["latency_seconds"] if 'otel_metric_overflow="true"' in x]
    assert any(x.startswith("latency_seconds_count") and x.endswith(" 50.0") for x in overflow)


def test_series_are_by_attributes_whatever_their_order_and_nothing_is_written_unseen() -> None:
    histograms = Histograms("t")
    seen = histograms.create("latency", (1.0, 2.0), unit="s")
    histograms.create("never", (1.0,))
    seen.record(0.5, {"a": "1", "b": "2"})
    seen.record(1.5, {"b": "2", "a": "1"})
    seen.record(1.0)
    assert sorted(seen.snapshot(), key=lambda s: len(s[0])) == [
        (frozenset(), [1, 0, 0], 1.0),
        (frozenset({("a", "1"), ("b", "2")}), [1, 1, 0], 2.0),
    ]
    registry = CollectorRegistry(auto_describe=True)
    registry.register(DistributionCollector(histograms))
    assert set(families(generate_latest(registry).decode())) == {"latency_seconds"}


def test_an_inactive_distribution_records_nothing() -> None:
    telemetry = Telemetry.disabled()
    telemetry.rpc_duration.record(0.1, {"rpc.method": "Narrate"})
    assert telemetry.rpc_duration.snapshot() == []


def test_a_scrape_reads_whole_series_while_values_are_recorded() -> None:
    histograms = Histograms("t")
    latency = histograms.create("latency", (1.0, 2.0))
    stop = threading.Event()

    def record() -> None:
        while not stop.is_set():
            latency.record(1.5, {"a": "1"})

    thread = threading.Thread(target=record)
    thread.start()
    try:
        for _ in range(200):
            for _, counts, total in latency.snapshot():
                assert total == 1.5 * sum(counts)
    finally:
        stop.set()
        thread.join()
    assert latency.snapshot()
