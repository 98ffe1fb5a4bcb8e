"""The OpenAI provider through the real SDK against the fake upstream over HTTP."""

from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import (
    StreamInterrupted,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from narrator_server.core.models import (
    FinishReason,
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    TurnKind,
    Usage,
)
from narrator_server.core.ports import (
    ChatMessage,
    ChatRequest,
    Deadline,
    StreamFinished,
    StreamOpened,
    TextChunk,
    TurnContext,
)
from narrator_server.providers.factory import Transport, openai_client
from narrator_server.providers.openai_chat import OpenAIProvider
from narrator_server.providers.retry import RetryPolicy
from narrator_server.testing.replies import Reply

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from narrator_server.core.ports import ChatEvent
    from narrator_server.testing.fake_openai import FakeOpenAI

SESSION = Session("s", Setting("w"), PlayerCharacter("A"), 1, 0.0)
FAST = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.02, jitter=0.01)


def request(deadline: Deadline | None = None) -> ChatRequest:
    return ChatRequest(
        messages=(ChatMessage("system", "sys"), ChatMessage("user", "I look")),
        context=TurnContext(SESSION, "t", 0, TurnKind.NARRATION, "I look", Scene()),
        deadline=deadline or Deadline(),
        max_tokens=50,
        temperature=0.5,
    )


@pytest.fixture
async def provider(upstream: FakeOpenAI, transport: Transport) -> AsyncIterator[OpenAIProvider]:
    client = openai_client(upstream.base_url, "k", transport)
    yield OpenAIProvider(client, "dm-model", FAST, timeout=10)
    await client.close()


async def events(provider: OpenAIProvider, req: ChatRequest | None = None) -> list[ChatEvent]:
    return [e async for e in provider.stream(req or request())]


async def test_stream_events_and_request_shape(
    provider: OpenAIProvider, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="a b c", usage=(7, 3), finish_reason="length"))
    got = await events(provider)
    # Chunks that arrive in one network read come as one piece of text.
    assert got[0] == StreamOpened("openai", "dm-model")
    assert "".join(e.text for e in got if isinstance(e, TextChunk)) == "a b c"
    assert got[-1] == StreamFinished(FinishReason.LENGTH, Usage(7, 3))
    body = upstream.received[0].body
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("dm-model", 50, 0.5)


@pytest.mark.parametrize("fault", [Reply.error(500), Reply.error(429, retry_after_ms=5),
                                   Reply(drop_before_response=True), Reply(drop_after=0),
                                   Reply(malformed_after=0)])  # fmt: skip
async def test_faults_before_the_first_word_are_retried(
    provider: OpenAIProvider, upstream: FakeOpenAI, fault: Reply
) -> None:
    upstream.script(fault, Reply(text="ok"))
    got = await events(provider)
    assert [e for e in got if isinstance(e, TextChunk)] == [TextChunk("ok")]
    assert len(upstream.received) == 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [(Reply.error(503), UpstreamUnavailable), (Reply.error(429), UpstreamRateLimited)],
)
async def test_retries_give_up_after_the_budget(
    provider: OpenAIProvider, upstream: FakeOpenAI, fault: Reply, error: type[Exception]
) -> None:
    upstream.script(fault, fault, fault)
    with pytest.raises(error):
        await events(provider)
    assert len(upstream.received) == 3


async def test_rejections_are_not_retried(provider: OpenAIProvider, upstream: FakeOpenAI) -> None:
    upstream.script(Reply.error(400))
    with pytest.raises(UpstreamRejected):
        await events(provider)
    assert len(upstream.received) == 1


@pytest.mark.parametrize("fault", [Reply(text="a b c d", drop_after=2),
                                   Reply(text="a b c d", malformed_after=2)])  # fmt: skip
async def test_faults_after_the_first_word_interrupt(
    provider: OpenAIProvider, upstream: FakeOpenAI, fault: Reply
) -> None:
    upstream.script(fault)
    seen: list[ChatEvent] = []
    with pytest.raises(StreamInterrupted):
        async for event in provider.stream(request()):
            seen.append(event)
    assert "".join(e.text for e in seen if isinstance(e, TextChunk)) == "a b "
    assert len(upstream.received) == 1


async def test_a_retry_after_longer_than_the_deadline_fails_fast(
    provider: OpenAIProvider, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply.error(429, retry_after=3))
    with pytest.raises(UpstreamRateLimited) as caught:
        await events(provider, request(Deadline.after(1)))
    assert caught.value.retry_after == 3
    assert len(upstream.received) == 1


async def test_closing_early_closes_the_upstream_response(
    provider: OpenAIProvider, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="w " * 500, pace=0.01))
    async with aclosing(provider.stream(request())) as stream:
        async for event in stream:
            if isinstance(event, TextChunk):
                break
    await upstream.received[0].client_disconnected.wait()
    assert upstream.received[0].chunks_sent < 500
