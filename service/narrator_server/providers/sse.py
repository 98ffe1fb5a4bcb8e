"""Parses chat-completion SSE lines with `json.loads`: no per-chunk model objects."""

from __future__ import annotations

import json
from typing import Any

from ..core.encoding import encodable
from ..core.errors import UpstreamUnavailable
from ..core.models import FinishReason, Usage

_FINISH = {
    "stop": FinishReason.STOP,
    "tool_calls": FinishReason.STOP,
    "function_call": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}


_MAX_COUNT = 2**32 - 1  # the contract's uint32


def _count(value: Any) -> int:
    """A token count as the upstream sent it, within the contract's range (0 when absent or
    not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0
    return int(min(max(value, 0), _MAX_COUNT))


class ChunkParser:
    """Feed SSE lines; collects the text pieces, finish reason, usage and model of a stream."""

    def __init__(self) -> None:
        self.done = False
        self.finish_reason = FinishReason.UNSPECIFIED
        self.usage = Usage()
        self.model = ""
        self.response_id = ""
        self.refused = False

    def feed(self, line: str) -> str:
        """The text carried by one line ('' for none); sets `done` at `[DONE]`."""
        if not line.startswith("data:"):
            return ""  # blank separators, comments, event names
        payload = line[5:].strip()
        if payload == "[DONE]":
            self.done = True
            return ""
        try:
            chunk: dict[str, Any] = json.loads(payload)
        except ValueError as e:
            raise UpstreamUnavailable("upstream sent a chunk that is not JSON") from e
        if "error" in chunk:
            raise UpstreamUnavailable("upstream reported an error mid-stream")
        if not self.model:
            self.model = encodable(str(chunk.get("model") or ""))[:200]
            self.response_id = encodable(str(chunk.get("id") or ""))[:200]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = Usage(
                _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
            )
        choices = chunk.get("choices")
        if not choices:
            return ""
        choice = choices[0]
        reason = choice.get("finish_reason")
        if reason and not self.refused:
            self.finish_reason = _FINISH.get(reason, FinishReason.UNSPECIFIED)
        delta = choice.get("delta") or {}
        text = delta.get("content")
        if text:
            return encodable(str(text))
        if delta.get("refusal"):
            # A refusal is not narration: the turn ends as filtered, the refusal unsaid.
            self.refused = True
            self.finish_reason = FinishReason.CONTENT_FILTER
            return ""
        calls = delta.get("tool_calls")
        if calls:
            return encodable(str((calls[0].get("function") or {}).get("arguments") or ""))
        return ""
