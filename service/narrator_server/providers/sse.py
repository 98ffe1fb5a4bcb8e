"""Parses a chat-completion SSE body as it arrives: bytes in, text out, no per-chunk objects.

`feed` takes whatever one network read returned and parses every complete line in it, so
several tokens that arrived together come out as one piece of text.
"""

from __future__ import annotations

import json
import json.scanner
from typing import TYPE_CHECKING, Any, cast

from ..core.encoding import encodable
from ..core.errors import UpstreamUnavailable
from ..core.models import FinishReason, Usage

if TYPE_CHECKING:
    from collections.abc import Callable

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


# (value, end), or StopIteration where no value starts
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    cast("Any", json.JSONDecoder())
)


class ChunkParser:
    """Collects the text, finish reason, usage and model of one stream.

    `usage` is the upstream's own count (None until it sends one); `chunks` counts the text
    chunks, about one token each on every OpenAI-compatible server, for an estimate."""

    def __init__(self) -> None:
        self.done = False
        self.finish_reason = FinishReason.UNSPECIFIED
        self.usage: Usage | None = None
        self.model = ""
        self.response_id = ""
        self.refused = False
        self.chunks = 0
        # A bad line: raised by the caller once the text before it was delivered.
        self.failed: UpstreamUnavailable | None = None
        self._rest = b""

    def feed(self, data: bytes) -> str:
        """The text carried by the complete lines of `data` ('' for none); a partial last line
        waits for the next call. Sets `done` at `[DONE]` (anything after it is ignored), and
        `failed` at a line that is not a chunk (the text before it is returned)."""
        if self.failed is not None:
            raise self.failed
        if self._rest:
            data, self._rest = self._rest + data, b""
        elif (
            data.startswith(b"data:")
            and data.endswith(b"\n")
            and data.find(b"\n") == len(data) - 2
            and not self.done
        ):
            # The common read: one event of one line ("data: {...}\n\n").
            try:
                return self.line(data[5:-2])
            except UpstreamUnavailable as error:
                self.failed = error
                return ""
        if data.endswith(b"\n"):
            lines = data.split(b"\n")
            lines.pop()
        else:
            lines = data.split(b"\n")
            self._rest = lines.pop()
        texts = []
        for line in lines:
            if not line.startswith(b"data:") or self.done:
                continue  # blank separators, comments, event names
            try:
                text = self.line(line[5:])
            except UpstreamUnavailable as error:
                self.failed = error
                break
            if text:
                texts.append(text)
        return texts[0] if len(texts) == 1 else "".join(texts)

    def line(self, payload: bytes) -> str:
        """The text of one `data:` payload."""
        payload = payload.strip()
        if payload == b"[DONE]":
            self.done = True
            return ""
        try:
            # SSE is UTF-8: decoded here, `json.loads` would first guess the bytes' encoding
            # (half of its ~6 µs a chunk); surrogatepass as it decodes.
            decoded = payload.decode("utf-8", "surrogatepass")
            # The decoder's scanner, without `json.loads`' two whitespace scans: the payload
            # is stripped already, so the value must end the line.
            chunk: dict[str, Any]
            chunk, end = _SCAN(decoded, 0)
            if end != len(decoded):
                raise ValueError("extra data after the JSON value")
        except (ValueError, StopIteration) as e:
            raise UpstreamUnavailable("upstream sent a chunk that is not JSON") from e
        if not isinstance(chunk, dict):
            raise UpstreamUnavailable("upstream sent a chunk that is not a JSON object")
        if "error" in chunk:
            raise UpstreamUnavailable("upstream reported an error mid-stream")
        if not self.model:
            self.model = encodable(str(chunk.get("model") or ""))[:200]
            self.response_id = encodable(str(chunk.get("id") or ""))[:200]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = _usage(usage)
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
            self.chunks += 1
            return encodable(str(text))
        if delta.get("refusal"):
            # A refusal is not narration: the turn ends as filtered, the refusal unsaid.
            self.refused = True
            self.finish_reason = FinishReason.CONTENT_FILTER
            return ""
        calls = delta.get("tool_calls")
        if calls:
            self.chunks += 1
            return encodable(str((calls[0].get("function") or {}).get("arguments") or ""))
        return ""


def _usage(usage: dict[str, Any]) -> Usage:
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return Usage(
        _count(usage.get("prompt_tokens")),
        _count(usage.get("completion_tokens")),
        cached_input_tokens=_count(cached),
    )
