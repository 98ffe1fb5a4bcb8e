"""The OpenAI provider resting between reads when the tap's reader says it needs no more text
for a while (`core/tap.py`; real SDK, the fake upstream over HTTP): what the model says
meanwhile is read in one piece, nothing is lost or reordered, and a rest never sets off the
stall timer or the read timeout. Only the fast transport pushes, so only it rests."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import StreamInterrupted
from narrator_server.core.ports import StreamFinished
from narrator_server.core.tap import Tap
from narrator_server.providers.factory import openai_client
from narrator_server.providers.openai_chat import OpenAIProvider
from narrator_server.providers.stall import StallPolicy
from narrator_server.testing.replies import Reply

from .test_openai_provider import FAST
from .test_openai_pushed import WORDS, Arrivals

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import openai

    from narrator_server.testing.fake_openai import FakeOpenAI


class Resting(Arrivals):
    """A top reader that, at each piece it takes, needs no more text for `rest` seconds; it
    notes whether the provider was resting each time it looked (every 10 ms)."""

    def __init__(self, rest: float) -> None:
        super().__init__()
        self.rest = rest
        self.tap = Tap(self.sink)
        self.looks: list[bool] = []

    def sink(self, text: str) -> bool:
        taken = super().sink(text)
        self.tap.rest_s = self.rest
        return taken

    async def read_resting(self, provider: OpenAIProvider) -> None:
        async def look() -> None:
            while True:
                self.looks.append(self.tap.resting)
                await asyncio.sleep(0.01)

        looking = asyncio.create_task(look())
        try:
            await self.read(provider, self.tap)
        finally:
            looking.cancel()

    def words_a_piece(self) -> list[int]:
        return [len(text.split()) for how, text in self.pieces if how == "pushed"]


@pytest.fixture
async def client(upstream: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai_client(upstream.base_url, "k", "fast")
    yield client
    await client.close()


def provider(
    client: openai.AsyncOpenAI, timeout: float = 10, stalls: StallPolicy | None = None
) -> OpenAIProvider:
    return OpenAIProvider(client, "dm-model", FAST, timeout=timeout, stalls=stalls)


async def test_a_rest_leaves_the_words_unread_and_then_reads_them_in_one_piece(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.01))  # 40 words over 0.4 s
    got = Resting(0.2)
    await got.read_resting(provider(client))
    assert got.text() == WORDS
    assert isinstance(got.events[-1], StreamFinished)
    pieces = got.words_a_piece()
    assert len(pieces) <= 10  # read a word at a time, it would be ~39 pieces
    assert max(pieces) >= 10  # a rest's worth of words in one read
    assert True in got.looks  # the top tap was told while the provider rested
    assert not got.tap.resting  # the last read (the stream's end) ended the rest


async def test_no_rest_is_taken_when_none_is_told(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.01))
    got = Resting(0.0)
    await got.read_resting(provider(client))
    assert got.text() == WORDS
    assert len(got.words_a_piece()) > 30  # a read a word
    assert True not in got.looks


@pytest.mark.parametrize(
    ("told", "timeout", "stalls"),
    [
        # Stalls are caught after 0.15 s of silence; told 1 s, it rests less than that.
        (1.0, 10.0, StallPolicy(first_token=20, inter_token=0.15, floor=0.1)),
        # The read timeout is 0.3 s; told 2 s, it rests half of it at most.
        (2.0, 0.3, None),
    ],
    ids=["stall-timer", "read-timeout"],
)
async def test_a_rest_ends_before_the_stall_timer_or_the_read_timeout_would_go_off(
    client: openai.AsyncOpenAI,
    upstream: FakeOpenAI,
    told: float,
    timeout: float,
    stalls: StallPolicy | None,
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.02))
    got = Resting(told)
    await got.read_resting(provider(client, timeout=timeout, stalls=stalls))
    assert got.text() == WORDS
    assert isinstance(got.events[-1], StreamFinished)  # ended normally
    assert max(got.words_a_piece()) >= 3  # having rested


async def test_a_stall_is_still_caught_while_the_provider_rests(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    """Rests do not count as the upstream's waits: the stall limit stays that of a model
    sending a word every 20 ms, and a stall after 15 words is caught."""
    upstream.script(Reply(text=WORDS, pace=0.02, stall_after=15))
    stalls = StallPolicy(first_token=20, inter_token=15, floor=0.3)
    got = Resting(0.2)
    with pytest.raises(StreamInterrupted, match="stalled") as caught:
        await got.read_resting(provider(client, stalls=stalls))
    limit = float(re.findall(r"stalled for ([0-9.]+) s", str(caught.value))[0])
    assert limit < 1.0  # counting its own rests as waits, it would allow 8 × 0.2 s = 1.6 s
    assert got.text() == " ".join(WORDS.split()[:15]) + " "


async def test_the_top_reader_may_ask_for_a_rest_between_two_reads(
    client: openai.AsyncOpenAI, upstream: FakeOpenAI
) -> None:
    """`Tap.rest_now`, asked while the provider waits for its next word (as the output check
    asks once held words went out): the words sent meanwhile come in one read. Once the
    stream is over, asking does nothing."""
    upstream.script(Reply(text=WORDS, pace=0.01))
    got = Arrivals()
    pushed = asyncio.Event()

    def sink(text: str) -> bool:
        pushed.set()
        return got.sink(text)

    tap = Tap(sink)
    asked: list[bool] = []

    async def ask() -> None:
        await pushed.wait()  # the provider pushes: it offers its rest_now by now
        await asyncio.sleep(0.05)
        assert tap.rest_now is not None
        asked.append(tap.rest_now(0.2))

    asking = asyncio.create_task(ask())
    await got.read(provider(client), tap)
    await asking
    assert asked == [True]
    assert got.text() == WORDS
    assert max(len(text.split()) for how, text in got.pieces if how == "pushed") >= 10
    assert not tap.resting  # the read after the rest ended it
    assert tap.rest_now is not None
    assert not tap.rest_now(0.2)  # the stream is over: its connection is not paused
