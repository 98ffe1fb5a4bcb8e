"""OpenAI-compatible chat provider: streamed completions through the official SDK.

The raw SSE lines are read through `with_streaming_response` and parsed with `json.loads`
(the SDK still builds the request and its errors). Retries (tenacity) cover only opening the
stream, up to its first text: once a word was yielded, a failure is a `StreamInterrupted`.
This module is the one place where the upstream is called.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import StreamInterrupted, UpstreamError, UpstreamUnavailable
from ..core.models import FinishReason
from ..core.ports import StreamFinished, StreamOpened, TextChunk
from ..telemetry import Telemetry
from .attempt import Attempt
from .openai_errors import to_domain
from .retry import RetryPolicy, retrying
from .sse import ChunkParser

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from openai import AsyncOpenAI

    from ..core.ports import ChatEvent, ChatRequest


@dataclass
class _Opened:
    lines: AsyncIterator[str]
    parser: ChunkParser
    first: list[str]
    attempt: Attempt


class OpenAIProvider:
    """A `ChatProvider` over one shared `AsyncOpenAI` client (its own retries must be off)."""

    name = "openai"

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._client = client
        self._model = model
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._telemetry = telemetry or Telemetry.disabled()
        url = client.base_url
        self._server = (str(url.host), int(url.port or (443 if url.scheme == "https" else 80)))

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        remaining = request.deadline.remaining()
        params: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "timeout": self._timeout if remaining is None else min(self._timeout, remaining),
        }
        if request.response_schema is not None:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "decision", "schema": request.response_schema},
            }
        return params

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        async with AsyncExitStack() as stack:
            opened: _Opened | None = None
            async for retry in retrying(self._retry, request.deadline, self._telemetry):
                with retry:
                    opened = await self._open(request, stack)
            assert opened is not None
            parser, attempt = opened.parser, opened.attempt
            try:
                yield StreamOpened(self.name, parser.model or self._model)
                for text in opened.first:
                    yield TextChunk(text)
                if not parser.done:
                    try:
                        async for line in opened.lines:
                            text = parser.feed(line)
                            if text:
                                attempt.chunk(text)
                                yield TextChunk(text)
                            elif parser.done:
                                break
                    except Exception as error:
                        raise StreamInterrupted(str(to_domain(error))) from error
                    if not parser.done and parser.finish_reason is FinishReason.UNSPECIFIED:
                        raise StreamInterrupted("upstream stream ended before it finished")
            except StreamInterrupted as error:
                attempt.failed(type(error).__name__, str(error))
                raise
            except (asyncio.CancelledError, GeneratorExit):
                attempt.failed("cancelled")
                raise
            attempt.finished(parser.finish_reason, parser.usage, parser.model, parser.response_id)
            yield StreamFinished(parser.finish_reason, parser.usage)

    async def _open(self, request: ChatRequest, stack: AsyncExitStack) -> _Opened:
        """One attempt: the HTTP response plus everything up to the first text (or the end)."""
        attempt = Attempt(self._telemetry, self.name, self._model, request, self._server)
        exits = AsyncExitStack()
        try:
            create = self._client.chat.completions.with_streaming_response.create
            response = await exits.enter_async_context(create(**self._params(request)))
            lines = response.iter_lines().__aiter__()
            parser, first = ChunkParser(), []
            async for line in lines:
                text = parser.feed(line)
                if text:
                    attempt.chunk(text)
                    first.append(text)
                    break
                if parser.done:
                    break
            else:
                if parser.finish_reason is FinishReason.UNSPECIFIED:
                    raise UpstreamUnavailable("upstream stream ended before its first word")
        except (asyncio.CancelledError, GeneratorExit):
            attempt.failed("cancelled")
            await exits.aclose()
            raise
        except Exception as error:
            domain: UpstreamError = to_domain(error)
            attempt.failed(type(domain).__name__, str(domain))
            await exits.aclose()
            raise domain from error
        # The response now belongs to the caller's stack: closed when the turn ends or is cancelled.
        await stack.enter_async_context(exits)
        return _Opened(lines, parser, first, attempt)
