"""Scripts for the fake OpenAI upstream: what it answers to one request."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

_WORDS = re.compile(r"\S+\s*")
# Words of generated answers (`Reply.tokens`): one token each, with its leading space. The
# answer is cut into sentences of `_SENTENCE` words (the last word ends one too), as a model's
# narration is: moderation closes a window at each sentence end.
_VOCABULARY = (
    " the", " torch", " gutters", " as", " you", " step", " into", " cold", " water", " and",
    " a", " voice", " echoes", " from", " dark", " stone", " of", " crypt", " door", " creaks",
)  # fmt: skip
_SENTENCE = (8, 20)


@dataclass
class Reply:
    """One scripted answer. Defaults: HTTP 200, the text streamed a word per chunk, then the
    finish chunk, the usage chunk (when asked with stream_options) and `[DONE]`."""

    text: str = "The torchlight flickers as you step forward."
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error_body: dict[str, Any] | None = None
    chunks: list[str] | None = None
    first_byte_delay: float = 0.0
    pace: float = 0.0
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None
    # Usage: False sends no usage chunk even when asked (many local servers don't);
    # `cached_tokens` adds `prompt_tokens_details.cached_tokens` to it.
    send_usage: bool = True
    cached_tokens: int | None = None
    # A generated answer of one-token chunks, its length drawn in [low, high] (benchmarks).
    tokens: tuple[int, int] | None = None
    as_tool_call: bool = False
    as_refusal: bool = False
    # Send these SSE data payloads verbatim instead of building chunks (then `[DONE]`).
    raw_events: list[str] | None = None
    # Faults: close the connection without answering; close it after N text chunks; stop
    # sending (keep the connection open) after N text chunks; send a non-JSON chunk after N.
    drop_before_response: bool = False
    drop_after: int | None = None
    stall_after: int | None = None
    malformed_after: int | None = None
    # Hold the text from chunk `gate_after` on until the test opens `gate` (a turn under way).
    gate: asyncio.Event | None = None
    gate_after: int = 1

    def pieces(self, rng: random.Random | None = None) -> list[str]:
        if self.tokens is not None:
            rng = rng or random.Random(0)
            count = rng.randint(*self.tokens)
            words = [_VOCABULARY[rng.randrange(len(_VOCABULARY))] for _ in range(count)]
            return _sentences(words, rng)
        return list(self.chunks) if self.chunks is not None else _WORDS.findall(self.text)

    @classmethod
    def error(
        cls, status: int, *, retry_after: float | None = None, retry_after_ms: int | None = None
    ) -> Reply:
        """An OpenAI-style JSON error with the right status (and Retry-After when given)."""
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
        body = {
            "error": {
                "message": f"fake upstream error {status} (secret body text)",
                "type": kind,
                "param": None,
                "code": kind,
            }
        }
        return cls(text="", status=status, headers=headers, error_body=body)

    @classmethod
    def decision(cls, option_id: str, arguments: dict[str, Any], rationale: str) -> Reply:
        """A structured-output answer, streamed in small pieces."""
        import json

        text = json.dumps(
            {"rationale": rationale, "decision": {"option_id": option_id, "arguments": arguments}}
        )
        return cls(text=text, chunks=[text[i : i + 7] for i in range(0, len(text), 7)])


def _sentences(words: list[str], rng: random.Random) -> list[str]:
    """`words` as sentences: a period at each sentence's last word, a capital at its first."""
    end = 0
    while end < len(words):
        words[end] = " " + words[end][1:].capitalize()
        end = min(end + rng.randint(*_SENTENCE), len(words))
        words[end - 1] += "."
    return words
