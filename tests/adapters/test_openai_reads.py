"""How the OpenAI provider reads a stream (real SDK, the fake upstream over HTTP): stalls
timed per read and fitted to the stream, usage counted when the upstream sends none, cached
tokens, one connection for many turns."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import StreamInterrupted
from narrator_server.core.models import Usage
from narrator_server.core.ports import StreamFinished, TextChunk
from narrator_server.providers.factory import Transport, openai_client
from narrator_server.providers.openai_chat import OpenAIProvider
from narrator_server.providers.stall import StallPolicy
from narrator_server.testing.replies import Reply

from .test_openai_provider import FAST, events, request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import openai

    from narrator_server.testing.fake_openai import FakeOpenAI

WORDS = " ".join(f"w{i}" for i in range(40))


@pytest.fixture
async def client(upstream: FakeOpenAI, transport: Transport) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai_client(upstream.base_url, "k", transport)
    yield client
    await client.close()


def provider(client: openai.AsyncOpenAI, floor: float, factor: float = 8.0) -> OpenAIProvider:
    stalls = StallPolicy(first_token=20, inter_token=15, floor=floor, factor=factor)
    return OpenAIProvider(client, "dm-model", FAST, timeout=30, stalls=stalls)


async def test_a_fast_stream_that_stops_is_stalled_at_its_own_pace_not_the_cap(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.02, stall_after=15))
    texts = []
    with pytest.raises(StreamInterrupted, match="stalled") as caught:
        async for event in provider(client, floor=0.3).stream(request()):
            if isinstance(event, TextChunk):
                texts.append(event.text)
    limit = float(re.findall(r"stalled for ([0-9.]+) s", str(caught.value))[0])
    # max(floor, 8 x ~20 ms): far below the 15 s cap (a loaded machine may stretch the gaps).
    assert limit < 2
    assert "".join(texts) == " ".join(WORDS.split()[:15]) + " "
    await upstream.received[0].client_disconnected.wait()


async def test_a_slow_model_is_not_taken_for_a_stalled_one(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    # 250 ms a token against a 100 ms floor: the limit follows the stream (8 x its gaps).
    upstream.script(Reply(text="one two three four five", pace=0.25, first_byte_delay=0.25))
    got = await events(provider(client, floor=0.1))
    assert "".join(e.text for e in got if isinstance(e, TextChunk)) == "one two three four five"
    assert isinstance(got[-1], StreamFinished)


async def test_a_slow_consumer_is_never_an_upstream_stall(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    # The limit is 0.2 s; the consumer pauses 0.6 s between two reads of a healthy stream.
    upstream.script(Reply(text=WORDS, pace=0.01))
    texts = []
    async for event in provider(client, floor=0.2, factor=1).stream(request()):
        if isinstance(event, TextChunk):
            texts.append(event.text)
            if len(texts) == 3:
                await asyncio.sleep(0.6)
        last = event
    assert "".join(texts) == WORDS
    assert isinstance(last, StreamFinished)


async def test_without_usage_from_the_upstream_it_is_counted_and_marked_estimated(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="a b c d e", send_usage=False))
    finished = (await events(provider(client, floor=1)))[-1]
    assert isinstance(finished, StreamFinished)
    usage = finished.usage
    assert (usage.output_tokens, usage.estimated) == (5, True)
    assert usage.input_tokens > 0


async def test_cached_input_tokens_are_read_from_the_usage(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text="a b", usage=(1200, 2), cached_tokens=1024))
    finished = (await events(provider(client, floor=1)))[-1]
    assert isinstance(finished, StreamFinished)
    assert finished.usage == Usage(1200, 2, cached_input_tokens=1024)


async def test_turns_reuse_one_upstream_connection(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    chat = provider(client, floor=1)
    for _ in range(3):
        await events(chat)
    assert upstream.connections == 1
    # The body is built once, as JSON, without the SDK's parameter transform.
    body = upstream.received[0].body
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "I look"},
    ]
    assert body["stream_options"] == {"include_usage": True}
