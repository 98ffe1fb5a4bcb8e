"""The local span file never grows past its cap, whatever one batch or one span holds."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from narrator_server.telemetry.jsonl import JsonLinesExporter

if TYPE_CHECKING:
    from pathlib import Path


def test_the_cap_holds_per_write(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    exporter = JsonLinesExporter(path, max_bytes=20_000)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for i in range(40):
        with tracer.start_as_current_span(f"span{i}") as span:
            span.set_attribute("payload", "p" * 1500)
        assert path.stat().st_size <= 20_000
    rotated = path.with_name("traces.jsonl.1")
    assert rotated.exists()
    assert rotated.stat().st_size <= 20_000
    with tracer.start_as_current_span("huge") as span:
        span.set_attribute("payload", "h" * 50_000)
    assert path.stat().st_size <= 20_000
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["name"] == "huge"
    assert "truncated" in last


def test_one_batch_larger_than_the_cap_rotates_within_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    exporter = JsonLinesExporter(path, max_bytes=5_000)
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    batch = []
    for i in range(30):
        span = tracer.start_span(f"s{i}", attributes={"payload": "q" * 400})
        span.end()
        batch.append(span)
    exporter.export(batch)  # type: ignore[arg-type]
    assert path.stat().st_size <= 5_000
    assert path.with_name("traces.jsonl.1").stat().st_size <= 5_000
