"""A gated turn buffer (a shared log's producer): followers see only what was published."""

from __future__ import annotations

import asyncio

import pytest

from narrator_server.core.models import TextDelta, TurnKind, TurnStarted
from narrator_server.core.turnbuffer import TurnBuffer
from narrator_server.core.turnlog import ProducerLost, TurnInfo

INFO = TurnInfo("s", "t", TurnKind.NARRATION, "I look")


async def test_followers_wait_for_what_was_published_while_text_keeps_merging() -> None:
    buffer = TurnBuffer(INFO, gated=True)
    follower = buffer.follow()
    buffer.add(TurnStarted("t", "p", "m"))
    buffer.add_text("Once ")
    first = asyncio.ensure_future(anext(follower))
    await asyncio.sleep(0)
    assert not first.done()  # nothing published yet
    assert buffer.seal() == [TurnStarted("t", "p", "m"), TextDelta(1, "Once ")]
    buffer.add_text("upon ")
    buffer.add_text("a time")  # merged: the copy of the first delta is in flight
    buffer.publish(2)
    assert await first == TurnStarted("t", "p", "m")
    assert await anext(follower) == TextDelta(1, "Once ")
    assert buffer.seal() == [TextDelta(2, "upon a time")]
    buffer.end()
    buffer.publish(buffer.sealed)
    assert [e async for e in follower] == [TextDelta(2, "upon a time")]


async def test_publishing_everything_opens_the_gate_for_good() -> None:
    buffer = TurnBuffer(INFO, gated=True)
    buffer.add_text("a")
    buffer.publish(None)  # e.g. the shared log cannot be reached
    buffer.add_text("b")
    buffer.end()
    assert [e async for e in buffer.follow()] == [TextDelta(1, "ab")]


async def test_a_retracted_buffer_ends_with_what_followers_were_shown() -> None:
    buffer = TurnBuffer(INFO, gated=True)
    follower = buffer.follow()
    buffer.add_text("shown ")
    buffer.seal()
    buffer.publish(1)
    assert await anext(follower) == TextDelta(1, "shown ")
    buffer.add_text("never shown")
    buffer.retract()
    buffer.end(ProducerLost(tuple(buffer.events)))
    buffer.publish(len(buffer.events))
    with pytest.raises(ProducerLost) as lost:
        await anext(follower)
    assert lost.value.events == (TextDelta(1, "shown "),)


async def test_recorded_events_keep_their_seq_and_new_text_follows_it() -> None:
    buffer = TurnBuffer(INFO, gated=True)
    buffer.extend([TurnStarted("t", "p", "m"), TextDelta(1, "a"), TextDelta(2, "b")])
    assert buffer.seal() == []  # recorded elsewhere already
    buffer.add_text("c")
    assert buffer.seal() == [TextDelta(3, "c")]
