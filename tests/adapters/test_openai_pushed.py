"""The OpenAI provider pushing its reads up a tap (`core/tap.py`) from the connection's callback
(real SDK, the fake upstream over HTTP): what the tap took is not yielded, what it did not take
is yielded in order, and a stream's timeouts, stalls and faults behave as when it yields all.
Over httpx's transport nothing is pushed, and the stream is the same."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import StreamInterrupted
from narrator_server.core.ports import StreamFinished, StreamOpened, TextChunk
from narrator_server.core.tap import Tap
from narrator_server.providers.factory import Transport, openai_client
from narrator_server.providers.openai_chat import OpenAIProvider
from narrator_server.providers.stall import StallPolicy
from narrator_server.testing.replies import Reply

from .test_openai_provider import FAST, request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import openai

    from narrator_server.core.ports import ChatEvent
    from narrator_server.testing.fake_openai import FakeOpenAI

WORDS = " ".join(f"w{i}" for i in range(40))


class Arrivals:
    """Every piece of text in the order it arrived: ("pushed", text) or ("yielded", text).
    The tap takes the first `take` pieces offered, then none."""

    def __init__(self, take: int = 10**6) -> None:
        self.take = take
        self.pieces: list[tuple[str, str]] = []
        self.events: list[ChatEvent] = []

    def sink(self, text: str) -> bool:
        if self.take <= 0:
            return False
        self.take -= 1
        self.pieces.append(("pushed", text))
        return True

    def text(self, how: str | None = None) -> str:
        return "".join(t for h, t in self.pieces if how is None or h == how)

    async def read(self, provider: OpenAIProvider, tap: Tap | None = None) -> None:
        req = dataclasses.replace(request(), tap=tap or Tap(self.sink))
        async for event in provider.stream(req):
            self.events.append(event)
            if isinstance(event, TextChunk):
                self.pieces.append(("yielded", event.text))


@pytest.fixture
async def client(upstream: FakeOpenAI, transport: Transport) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai_client(upstream.base_url, "k", transport)
    yield client
    await client.close()


def provider(client: openai.AsyncOpenAI, timeout: float = 10, floor: float = 1.5) -> OpenAIProvider:
    stalls = StallPolicy(first_token=20, inter_token=15, floor=floor)
    return OpenAIProvider(client, "dm-model", FAST, timeout=timeout, stalls=stalls)


async def test_text_the_tap_takes_is_not_yielded_and_none_is_lost(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI, transport: Transport
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.005))
    got = Arrivals()
    await got.read(provider(client))
    assert got.text() == WORDS
    assert isinstance(got.events[0], StreamOpened)
    assert isinstance(got.events[-1], StreamFinished)
    assert got.events[-1].usage.output_tokens > 0
    if transport == "fast":
        # The first word opens the stream (read before any tap); the paced rest is pushed.
        assert got.pieces[0][0] == "yielded"
        assert got.pieces[0][1].startswith("w0 ")
        assert len(got.text("pushed")) > len(WORDS) // 2
    else:
        assert got.text("yielded") == WORDS


async def test_a_tap_that_stops_taking_gets_the_rest_yielded_in_order(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI, transport: Transport
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.005))
    got = Arrivals(take=5)
    await got.read(provider(client))
    assert got.text() == WORDS
    hows = [h for h, _ in got.pieces]
    if transport == "fast":
        first_yield_after_push = hows.index("yielded", hows.index("pushed"))
        assert "pushed" not in hows[first_yield_after_push:]
        assert hows.count("pushed") == 5


async def test_pushed_reads_keep_the_read_timeout_from_firing(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    """The read timeout (0.8 s) times a silence, not the stream: ~2.4 s of words, each pushed
    while one read waits, end normally."""
    upstream.script(Reply(text=WORDS, pace=0.06))
    got = Arrivals()
    await got.read(provider(client, timeout=0.8))
    assert got.text() == WORDS
    assert isinstance(got.events[-1], StreamFinished)


async def test_a_stall_is_caught_while_text_is_pushed(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.02, stall_after=15))
    got = Arrivals()
    with pytest.raises(StreamInterrupted, match="stalled") as caught:
        await got.read(provider(client, floor=0.3))
    assert float(re.findall(r"stalled for ([0-9.]+) s", str(caught.value))[0]) < 2
    assert got.text() == " ".join(WORDS.split()[:15]) + " "
    await upstream.received[0].client_disconnected.wait()


@pytest.mark.parametrize("fault", [Reply(text=WORDS, pace=0.01, malformed_after=12),
                                   Reply(text=WORDS, pace=0.01, drop_after=12)])  # fmt: skip
async def test_a_fault_after_pushed_text_interrupts_after_that_text(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI, fault: Reply
) -> None:
    upstream.script(fault)
    got = Arrivals()
    with pytest.raises(StreamInterrupted):
        await got.read(provider(client))
    assert got.text() == " ".join(WORDS.split()[:12]) + " "


async def test_a_pooled_connection_no_longer_pushes_to_the_last_streams_tap(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    chat = provider(client)
    upstream.script(Reply(text=WORDS, pace=0.005), Reply(text=WORDS, pace=0.005))
    first = Arrivals()
    await first.read(chat)
    pieces = len(first.pieces)
    second = [e async for e in chat.stream(request())]  # no tap: every word is yielded
    assert "".join(e.text for e in second if isinstance(e, TextChunk)) == WORDS
    assert len(first.pieces) == pieces
    assert upstream.connections == 1
