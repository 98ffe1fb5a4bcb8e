"""One model operation's CLIENT span and GenAI metrics: opened, first chunk, finished or failed."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from ..core.models import FinishReason, Usage
    from ..core.ports import ChatRequest
    from ..telemetry import Telemetry


class Attempt:
    """Records one attempt. Per-chunk work is one integer increment (and text only when
    content capture is on); everything else happens once per attempt."""

    def __init__(
        self,
        telemetry: Telemetry,
        provider: str,
        model: str,
        request: ChatRequest,
        server: tuple[str, int] | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._metric = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
        }
        attributes: dict[str, str | int | float] = {
            **self._metric,
            "gen_ai.request.max_tokens": request.max_tokens,
            "gen_ai.request.temperature": request.temperature,
            "gen_ai.conversation.id": request.context.session.session_id,
            "narrator.turn_id": request.context.turn_id,
        }
        if server is not None:
            attributes["server.address"], attributes["server.port"] = server
        self.span = telemetry.tracer.start_span(
            f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes
        )
        if telemetry.capture_content:
            messages = [{"role": m.role, "content": m.content} for m in request.messages]
            self.span.set_attribute("gen_ai.input.messages", json.dumps(messages))
        self._texts: list[str] | None = [] if telemetry.capture_content else None
        self._started = time.monotonic()
        self._first: float | None = None
        self.chunks = 0

    def chunk(self, text: str) -> None:
        if self._first is None:
            self._first = time.monotonic()
            self.span.add_event("gen_ai.first_token")
            self._telemetry.time_to_first_chunk.record(self._first - self._started, self._metric)
        self.chunks += 1
        if self._texts is not None:
            self._texts.append(text)

    def finished(
        self, finish_reason: FinishReason, usage: Usage, response_model: str, response_id: str
    ) -> None:
        span, metric = self.span, dict(self._metric)
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason.value])
        span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cached_input_tokens)
        if usage.estimated:
            span.set_attribute("narrator.usage.estimated", True)
        if response_model:
            span.set_attribute("gen_ai.response.model", response_model)
            metric["gen_ai.response.model"] = response_model
        if response_id:
            span.set_attribute("gen_ai.response.id", response_id)
        if self._texts is not None:
            output = [{"role": "assistant", "content": "".join(self._texts)}]
            span.set_attribute("gen_ai.output.messages", json.dumps(output))
        t = self._telemetry
        # Cached input tokens are a part of the input ones, recorded under their own type.
        counts = (("input", usage.input_tokens), ("output", usage.output_tokens),
                  ("cached_input", usage.cached_input_tokens))  # fmt: skip
        estimated = "true" if usage.estimated else "false"
        for kind, count in counts:
            if kind == "cached_input" and not count:
                continue  # most upstreams never cache: no series for them
            t.token_usage.record(
                count, {**metric, "gen_ai.token.type": kind, "narrator.usage.estimated": estimated}
            )
        if self._first is not None and self.chunks > 1:
            per_chunk = (time.monotonic() - self._first) / (self.chunks - 1)
            t.time_per_output_chunk.record(per_chunk, metric)
        self._end(metric)

    def failed(self, error_type: str, message: str = "") -> None:
        self.span.set_attribute("error.type", error_type)
        self.span.set_status(Status(StatusCode.ERROR, message or error_type))
        self._end({**self._metric, "error.type": error_type})

    def _end(self, metric: dict[str, str]) -> None:
        self._telemetry.operation_duration.record(time.monotonic() - self._started, metric)
        self.span.end()
