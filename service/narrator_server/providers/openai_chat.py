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

from ..core.errors import (
    DeadlineExceeded,
    StreamInterrupted,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from ..core.models import FinishReason
from ..core.ports import StreamFinished, StreamOpened, TextChunk
from ..telemetry import Telemetry
from .attempt import Attempt
from .openai_errors import to_domain
from .retry import BudgetStop, RetryPolicy, retrying
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


@dataclass(frozen=True)
class StallPolicy:
    """How long an upstream may stay silent: before its first word, and between two words."""

    first_token: float = 20.0
    inter_token: float = 15.0


class OpenAIProvider:
    """A `ChatProvider` over one shared `AsyncOpenAI` client (its own retries must be off)."""

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        telemetry: Telemetry | None = None,
        stalls: StallPolicy | None = None,
        name: str = "openai",
    ) -> None:
        self.name = name
        self._stalls = stalls or StallPolicy()
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
            opened = await self._open_with_retries(request, stack)
            parser, attempt = opened.parser, opened.attempt
            try:
                yield StreamOpened(self.name, parser.model or self._model)
                for text in opened.first:
                    yield TextChunk(text)
                if not parser.done:
                    loop = asyncio.get_running_loop()
                    gap = self._stalls.inter_token
                    # The timer also runs while this generator waits at a yield: safe, since a
                    # turn's producer task only buffers events and never awaits between them.
                    try:
                        async with asyncio.timeout_at(loop.time() + gap) as stall:
                            async for line in opened.lines:
                                text = parser.feed(line)
                                if text:
                                    stall.reschedule(loop.time() + gap)
                                    attempt.chunk(text)
                                    yield TextChunk(text)
                                elif parser.done:
                                    break
                    except TimeoutError as error:
                        raise StreamInterrupted(f"upstream stalled for {gap:g} s") from error
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

    async def _open_with_retries(self, request: ChatRequest, stack: AsyncExitStack) -> _Opened:
        budget = BudgetStop(self._retry, request.deadline)
        try:
            async for retry in retrying(self._retry, budget, self._telemetry):
                with retry:
                    return await self._open(request, stack)
        except UpstreamRateLimited:
            raise  # its Retry-After tells the client when to come back
        except UpstreamError as error:
            if budget.deadline_hit:
                raise DeadlineExceeded("no retry fits in the call's deadline") from error
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _open(self, request: ChatRequest, stack: AsyncExitStack) -> _Opened:
        """One attempt: the HTTP response plus everything up to the first text (or the end)."""
        remaining = request.deadline.remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded("the call's deadline passed")
        first_token = self._stalls.first_token
        limit = first_token if remaining is None else min(first_token, remaining)
        attempt = Attempt(self._telemetry, self.name, self._model, request, self._server)
        exits = AsyncExitStack()
        try:
            async with asyncio.timeout(limit):
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
        except TimeoutError as error:
            attempt.failed("stalled")
            await exits.aclose()
            if limit < first_token:
                raise DeadlineExceeded(
                    "the call's deadline passed before the first word"
                ) from error
            raise UpstreamUnavailable(f"no first word within {first_token:g} s") from error
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
