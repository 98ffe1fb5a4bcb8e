"""`narrator traces`: the recent traces of the local span file as indented waterfalls."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

Record = dict[str, Any]
BAR = 24


def read(path: Path) -> list[Record]:
    """Span records from the file and its rotated predecessor, oldest first."""
    records: list[Record] = []
    for file in (path.with_name(path.name + ".1"), path):
        if file.exists():
            with file.open(encoding="utf-8") as f:
                records += [json.loads(line) for line in f if line.strip()]
    return records


def select(
    records: list[Record], *, session: str = "", trace: str = "", limit: int = 10
) -> list[list[Record]]:
    """Traces (their spans) newest first, filtered by session id or trace id prefix."""
    traces: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        traces[record["trace_id"]].append(record)
    chosen = [
        spans
        for trace_id, spans in traces.items()
        if trace_id.startswith(trace)
        and (not session or any(_session(s) == session for s in spans))
    ]
    chosen.sort(key=lambda spans: min(s["start_ns"] for s in spans), reverse=True)
    return chosen[:limit]


def _session(span: Record) -> str:
    return str(span["attributes"].get("gen_ai.conversation.id", ""))


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.1f} ms" if ns < 1e10 else f"{ns / 1e9:.2f} s"


def _details(span: Record) -> str:
    a = span["attributes"]
    parts = []
    if "gen_ai.provider.name" in a:
        parts.append(str(a["gen_ai.provider.name"]))
    first = next((e for e in span["events"] if e["name"] == "gen_ai.first_token"), None)
    if first:
        parts.append(f"ttft {_ms(first['time_ns'] - span['start_ns'])}")
    if "gen_ai.usage.input_tokens" in a:
        parts.append(f"tokens {a['gen_ai.usage.input_tokens']}→{a['gen_ai.usage.output_tokens']}")
    if "gen_ai.response.finish_reasons" in a:
        parts.append(f"finish {','.join(a['gen_ai.response.finish_reasons'])}")
    if "rpc.grpc.status_code" in a:
        parts.append(f"code {a['rpc.grpc.status_code']}")
    if "narrator.provider" in a:
        parts.append(f"spoke {a['narrator.provider']}")
    if "error.type" in a:
        parts.append(f"error {a['error.type']}")
    return " · ".join(parts)


def _bar(span: Record, t0: int, total: int) -> str:
    start = int((span["start_ns"] - t0) / total * BAR)
    width = max(1, int((span["end_ns"] - span["start_ns"]) / total * BAR))
    return (" " * start + "█" * width).ljust(BAR)[:BAR]


def render(spans: list[Record]) -> Iterable[str]:
    """One trace: a header line, then one line per span and per notable event, indented."""
    by_parent: dict[str | None, list[Record]] = defaultdict(list)
    ids = {s["span_id"] for s in spans}
    for span in sorted(spans, key=lambda s: s["start_ns"]):
        by_parent[span["parent_id"] if span["parent_id"] in ids else None].append(span)
    t0 = min(s["start_ns"] for s in spans)
    total = max(1, max(s["end_ns"] for s in spans) - t0)
    roots = by_parent[None]
    session = next((_session(s) for s in spans if _session(s)), "-")
    yield f"trace {spans[0]['trace_id']}  session {session}  {_ms(total)}"

    def walk(span: Record, depth: int) -> Iterable[str]:
        mark = "✗" if span["status"] == "ERROR" else " "
        name = ("  " * depth + span["name"])[:44].ljust(44)
        yield (
            f"  {_bar(span, t0, total)} {mark} {name} {_ms(span['end_ns'] - span['start_ns']):>10}"
            f"  {_details(span)}"
        )
        for event in span["events"]:
            if event["name"] in ("narrator.retry", "narrator.fallback", "rpc.cancelled"):
                attributes = ", ".join(f"{k}={v}" for k, v in event["attributes"].items())
                at = _ms(event["time_ns"] - t0)
                yield f"  {'':{BAR}}   {'  ' * (depth + 1)}↳ {event['name']} at {at} ({attributes})"
        for child in by_parent[span["span_id"]]:
            yield from walk(child, depth + 1)

    for root in roots:
        yield from walk(root, 0)
