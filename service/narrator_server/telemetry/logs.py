"""Structured JSON log lines that carry the current trace and span ids."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else came from `extra=` and is logged as a field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# No field of a line is longer than this (a client's string may hide in any of them).
MAX_FIELD_CHARS = 2000
MAX_EXCEPTION_CHARS = 20_000
# Built once: json.dumps with arguments builds an encoder for every line.
_ENCODE = json.JSONEncoder(default=str).encode


def _bounded(value: object, limit: int = MAX_FIELD_CHARS, depth: int = 0) -> object:
    """The value with every string in it cut to `limit` (lists and dicts to 50 entries)."""
    if isinstance(value, str):
        if len(value) > limit:
            return value[:limit] + f"… ({len(value) - limit} more characters)"
        return value
    if depth < 3 and isinstance(value, list | tuple):
        return [_bounded(v, limit, depth + 1) for v in value[:50]]
    if depth < 3 and isinstance(value, dict):
        return {str(k)[:100]: _bounded(v, limit, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _bounded(str(value), limit)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": _bounded(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _bounded(value)
        if record.exc_info:
            entry["exception"] = _bounded(self.formatException(record.exc_info),
                                          MAX_EXCEPTION_CHARS)  # fmt: skip
        return _ENCODE(entry)


_base_factory = logging.getLogRecordFactory()


def _record_with_trace(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        record.trace_id = f"{ctx.trace_id:032x}"
        record.span_id = f"{ctx.span_id:016x}"
    return record


def join_traces() -> None:
    """Every log record made inside a span carries its trace_id and span_id (idempotent)."""
    logging.setLogRecordFactory(_record_with_trace)


def configure(level: str, json_lines: bool = True) -> None:
    """Logs to stderr: JSON lines (default) or plain text for reading in a terminal."""
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("httpx", "httpx2", "openai"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    join_traces()
