"""OpenAI-compatible chat provider: streamed completions through the official SDK.

The request body is built once per turn as JSON bytes and sent through the SDK client's own
HTTP client with the headers the SDK builds (user agent, platform, auth), computed once: the
SDK's per-request machinery (option models, parameter transform, header and URL merging) costs
more than the rest of a turn's upstream call. A refusal becomes the SDK's typed error
(`APIStatusError` and its subclasses), as the SDK's own `post` would raise it. The body is read
as bytes, one network read at a time, and every complete SSE line of a read is parsed at once.
Retries (tenacity) cover only opening the stream, up to its first text: once a word was
yielded, a failure is a `StreamInterrupted`. Between words each read is timed (`StallTimer`).
Over the lean transport, the reads that arrive while the stream waits are taken in the
connection's callback and their text offered to the request's tap (`pushed.py`, `core/tap.py`).
This module is the one place where the upstream is called.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2
import openai

from ..core.errors import (
    DeadlineExceeded,
    StreamInterrupted,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from ..core.models import FinishReason
from ..core.ports import StreamFinished, StreamOpened, TextChunk
from ..core.prompt import estimated_usage
from ..telemetry import Telemetry
from . import http1
from .attempt import Attempt
from .chat_body import chat_body
from .openai_errors import to_domain
from .pushed import PushedReads
from .retry import BudgetStop, RetryPolicy, retrying
from .sse import ChunkParser
from .stall import StallPolicy, StallTimer

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from openai import AsyncOpenAI
    from tenacity import AttemptManager

    from ..core.ports import ChatEvent, ChatRequest

__all__ = ["OpenAIProvider", "StallPolicy"]
log = logging.getLogger(__name__)
_HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


def _chat_request(client: AsyncOpenAI) -> tuple[httpx2.URL, httpx2.Headers]:
    """The URL and headers of every chat request: the SDK's (its key is fixed at start)."""
    base = client.base_url
    url = base.copy_with(raw_path=base.raw_path + b"chat/completions")
    headers = {k: v for k, v in client.default_headers.items() if isinstance(v, str)}
    return url, httpx2.Headers(headers | client.auth_headers | _HEADERS)


@dataclass
class _Opened:
    reads: AsyncIterator[bytes]
    parser: ChunkParser
    first: str
    first_wait: float
    attempt: Attempt
    direct: httpx2.Response | None  # the lean transport's response, read as it arrives


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
        self._url, self._headers = _chat_request(client)
        # The transport the SDK's HTTP client would use for the URL (a proxy's, when the
        # environment names one): called directly, as that client adds nothing a chat
        # request needs (no redirects, cookies or auth flows) and costs a third of the call.
        self._http: httpx2.AsyncClient = client._client
        self._transport = self._http._transport_for_url(self._url)

    async def probe(self) -> None:
        """Lists the upstream's models once (at start): `UpstreamMisconfigured` when it refuses
        the key; a warning when the model is not among those it lists."""
        try:
            page = await self._client.models.list(timeout=10)
        except openai.NotFoundError:
            return  # a server without /models: the first turn will tell
        except Exception as error:
            raise to_domain(error) from error
        ids = [m.id for m in page.data]
        model = self._model
        if ids and not any(i == model or i.startswith(f"{model}:") for i in ids):
            log.warning(
                "upstream does not list the configured model; check NARRATOR_MODEL or the "
                "upstream's model name",
                extra={"upstream": self.name, "model": model, "listed": ids[:20]},
            )

    def body(self, request: ChatRequest) -> bytes:
        """The request's JSON, built once for every attempt."""
        fields: dict[str, Any] = {
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.response_schema is not None:
            fields["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "decision", "schema": request.response_schema},
            }
        return chat_body(self._model, request.messages, fields)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        async with AsyncExitStack() as stack:
            opened = await self._open_with_retries(request, self.body(request), stack)
            parser, attempt = opened.parser, opened.attempt
            try:
                yield StreamOpened(self.name, parser.model or self._model)
                if opened.first:
                    yield TextChunk(opened.first)
                if parser.failed is not None:
                    raise StreamInterrupted(str(parser.failed))
                timer = StallTimer(self._stalls, opened.first_wait)
                reads = opened.reads
                pushed = None
                if request.tap is not None and opened.direct is not None:
                    pushed = PushedReads(parser, timer, attempt, request.tap)
                    pushed.rest = http1.listen(opened.direct, pushed.read)  # released with it
                try:
                    # Past `[DONE]` the body is read to its end, so the connection is reused.
                    while True:
                        timer.reading()
                        try:
                            data = await reads.__anext__()
                        except StopAsyncIteration:
                            break
                        except asyncio.CancelledError:
                            if not timer.stalled():
                                raise
                            if parser.done:
                                break  # it said everything; only the body's end is missing
                            raise StreamInterrupted(
                                f"upstream stalled for {timer.limit:.3g} s"
                            ) from None
                        if pushed is not None:
                            if held := pushed.held():  # read before `data`; counted then
                                yield TextChunk(held)
                            if pushed.error is not None:
                                raise pushed.error
                        text = parser.feed(data) if data else ""
                        timer.read(bool(text))
                        if text:
                            attempt.chunk(text)
                            yield TextChunk(text)
                        if parser.failed is not None:
                            raise parser.failed
                except (StreamInterrupted, asyncio.CancelledError, GeneratorExit):
                    raise
                except Exception as error:
                    if not parser.done:
                        raise StreamInterrupted(str(to_domain(error))) from error
                finally:
                    timer.close()
                if not parser.done and parser.finish_reason is FinishReason.UNSPECIFIED:
                    raise StreamInterrupted("upstream stream ended before it finished")
            except StreamInterrupted as error:
                attempt.failed(type(error).__name__, str(error))
                raise
            except (asyncio.CancelledError, GeneratorExit):
                attempt.failed("cancelled")
                raise
            usage = parser.usage
            if usage is None or (parser.chunks and not usage.output_tokens):
                # None from the upstream (or none to believe): the output counted from the
                # stream (a chunk is about a token), the prompt estimated.
                usage = estimated_usage(request.messages, parser.chunks)
            attempt.finished(parser.finish_reason, usage, parser.model, parser.response_id)
            yield StreamFinished(parser.finish_reason, usage)

    async def _open_with_retries(
        self, request: ChatRequest, body: bytes, stack: AsyncExitStack
    ) -> _Opened:
        budget = BudgetStop(self._retry, request.deadline)
        controller = retrying(self._retry, budget, self._telemetry)
        attempt: AttemptManager | None = None
        try:
            async for attempt in controller:
                with attempt:
                    return await self._open(request, body, stack)
        except UpstreamRateLimited:
            raise  # its Retry-After tells the client when to come back
        except UpstreamError as error:
            if budget.deadline_hit:
                raise DeadlineExceeded("no retry fits in the call's deadline") from error
            raise
        finally:
            # tenacity's controller and its state refer to each other (a cycle the collector
            # frees later): they must not keep the last attempt's error, whose traceback
            # holds the frames of the whole call.
            if attempt is not None:
                attempt.retry_state.outcome = None
            del controller
            attempt = None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _open(self, request: ChatRequest, body: bytes, stack: AsyncExitStack) -> _Opened:
        """One attempt: the HTTP response plus everything up to the first text (or the end)."""
        remaining = request.deadline.remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded("the call's deadline passed")
        first_token = self._stalls.first_token
        limit = first_token if remaining is None else min(first_token, remaining)
        timeout = self._timeout if remaining is None else min(self._timeout, remaining)
        attempt = Attempt(self._telemetry, self.name, self._model, request, self._server)
        loop = asyncio.get_running_loop()
        started = loop.time()
        exits = AsyncExitStack()
        try:
            async with asyncio.timeout(limit):
                response = await self._send(body, timeout)
                exits.push_async_callback(response.aclose)
                lean = http1.body_of(response)
                reads = lean or response.aiter_bytes()
                exits.push_async_callback(reads.aclose)
                parser, first = ChunkParser(), ""
                async for data in reads:
                    first = parser.feed(data)
                    if first:
                        attempt.chunk(first)
                        break  # a bad line after it is raised once the text is out
                    if parser.failed is not None:
                        raise parser.failed
                else:
                    if not parser.done and parser.finish_reason is FinishReason.UNSPECIFIED:
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
        direct = response if lean is not None else None
        return _Opened(reads, parser, first, loop.time() - started, attempt, direct)

    async def _send(self, body: bytes, timeout: float) -> httpx2.Response:
        """The streamed response, or the SDK's error for a refusal or a broken connection."""
        request = httpx2.Request(
            "POST", self._url, headers=self._headers, content=body,
            extensions={"timeout": httpx2.Timeout(timeout).as_dict()},
        )  # fmt: skip
        try:
            response = await self._transport.handle_async_request(request)
            response.request = request
            if response.has_redirect_location:  # rare: the client takes it from here, as
                await response.aread()  # the SDK's post would (307/308 keep the POST)
                await response.aclose()
                onward = self._http._build_redirect_request(request, response)
                response = await self._http.send(onward, stream=True)
        except httpx2.TimeoutException as error:
            raise openai.APITimeoutError(request) from error
        except httpx2.TransportError as error:
            raise openai.APIConnectionError(request=request) from error
        if response.status_code >= 400:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise self._client._make_status_error_from_response(response)
        return response
