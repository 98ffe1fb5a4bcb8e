"""Span exporter to a local JSON-lines file: the embedded default when no collector is set."""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from opentelemetry.sdk.trace import ReadableSpan


def span_record(span: ReadableSpan) -> dict[str, object]:
    ctx = span.get_span_context()
    assert ctx is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "status_message": span.status.description or "",
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
    }


class JsonLinesExporter(SpanExporter):
    """Appends one JSON object per span; rotates to `<name>.1` before a write would take the
    file past `max_bytes`, so the file never exceeds it (a span too large for the file on its
    own is written as a stub that says so).

    Runs on the batch processor's thread, never on the event loop.
    """

    def __init__(self, path: Path, max_bytes: int = 20_000_000) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size: int | None = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def _line(self, span: ReadableSpan) -> bytes:
        record = span_record(span)
        line = (json.dumps(record, default=str) + "\n").encode("utf-8", "replace")
        if len(line) <= self._max_bytes:
            return line
        stub = {k: record[k] for k in ("name", "kind", "trace_id", "span_id", "parent_id")}
        stub["truncated"] = f"the span was {len(line)} bytes; the file holds {self._max_bytes}"
        return (json.dumps(stub) + "\n").encode()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [self._line(s) for s in spans]
        with self._lock:
            if self._size is None:
                self._size = self._path.stat().st_size if self._path.exists() else 0
            with ExitStack() as stack:
                f = stack.enter_context(self._path.open("ab"))
                for line in lines:
                    if self._size and self._size + len(line) > self._max_bytes:
                        f.close()
                        self._path.replace(self._path.with_name(self._path.name + ".1"))
                        f = stack.enter_context(self._path.open("ab"))
                        self._size = 0
                    f.write(line)
                    self._size += len(line)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass
