"""Text pushed up the tap (`core/tap.py`) instead of yielded: the same turn, in the same order,
with the same limits, whichever way each piece went."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from narrator_server.core.event_pump import EventPump
from narrator_server.core.models import (
    LOCAL,
    FinishReason,
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    TextDelta,
    TurnCompleted,
    TurnKind,
)
from narrator_server.core.moderation import ModerationConfig
from narrator_server.core.ports import ChatMessage, ChatRequest, Deadline, TurnContext
from narrator_server.core.stream_text import StreamText
from narrator_server.core.tap import Gathered, Tap
from narrator_server.core.turns import Progress, TurnRunner

from .fakes import Script, ScriptedProvider
from .test_output_check import Recording, setup

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

WORDS = [f"w{i} " for i in range(30)] + ["end."]


def request() -> ChatRequest:
    session = Session("s", Setting("w"), PlayerCharacter("A"), 1, 0.0)
    return ChatRequest(
        messages=(ChatMessage("user", "I look"),),
        context=TurnContext(session, "t", 0, TurnKind.NARRATION, "I look", Scene()),
        deadline=Deadline(),
        max_tokens=50,
        temperature=0.5,
    )


async def test_pushed_text_reaches_the_caller_checked_and_in_order() -> None:
    provider = ScriptedProvider("p", Script(WORDS, pause=0.001))
    provider.pushes = True
    moderator = Recording(instant=True)
    narrator, store, sid = await setup(provider, moderator)
    events = [e async for e in narrator.narrate(LOCAL, sid, "I wait", Scene())]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "".join(WORDS)
    assert moderator.allowed == text  # every word went through a check before it went out
    assert provider.pushed > len(WORDS) // 2  # most of them past the generators
    assert store.turns[sid][0].text == text


@pytest.mark.parametrize("pushes", [False, True])
async def test_the_size_limit_cuts_pushed_text_where_it_cuts_yielded_text(pushes: bool) -> None:
    provider = ScriptedProvider("p", Script(WORDS, pause=0.001))
    provider.pushes = pushes
    runner = TurnRunner(
        provider, max_text_chars=25, moderator=Recording(), moderation=ModerationConfig()
    )
    p = Progress()
    events = [e async for e in runner.run(request(), None, p)]
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.finish_reason is FinishReason.LENGTH
    assert completed.text == "".join(WORDS)[:25]
    assert "".join(e for e in events if isinstance(e, str)) == completed.text
    assert provider.closed_early == 1
    assert bool(provider.pushed) is pushes


def test_stream_text_refuses_a_push_past_its_limit_and_changes_nothing() -> None:
    taken: list[str] = []
    p = Progress()
    text = StreamText(p, 10, upper=Tap(lambda t: taken.append(t) is None))
    assert text.pushable()
    assert text.push("abcdef")
    assert not text.push("ghijklm")  # 13 > 10: the provider yields it, `take` cuts it
    assert (p.text, taken, text.said, text.room) == (["abcdef"], ["abcdef"], 6, 4)
    assert text.take("ghijklm") == "ghij"
    assert text.cut
    assert p.text == ["abcdef", "ghij"]


def test_stream_text_does_not_push_when_the_level_above_does_not_take() -> None:
    p = Progress()
    text = StreamText(p, 100, upper=Tap())  # no sink above: nothing is taken
    assert not text.push("abc")
    assert (p.text, text.said, text.room) == ([], 0, 100)


async def test_a_full_pump_refuses_pushed_text_and_its_reader_gets_all_in_order() -> None:
    tap = Tap()
    offered: list[bool] = []

    async def source() -> AsyncGenerator[str]:
        for i in range(8):
            word = f"w{i}"
            taken = tap.push(word)  # as a provider does while it waits for its upstream
            offered.append(taken)
            if not taken:
                yield word

    pump = EventPump(source(), ahead=3, tap=tap)
    pump.start()
    got = []
    while (woken := await pump.next())[0] != "end":
        got.append(woken[1])
    assert got == [f"w{i}" for i in range(8)]
    assert True in offered  # taken while there was room,
    assert False in offered  # then yielded
    assert tap.sink is None  # the pump's sink goes once it stops reading
    await pump.close()


def test_taps_share_their_top_where_a_rest_is_told_and_a_push_clears_it_first() -> None:
    top = Tap()
    seen: list[float] = []

    def reader(text: str) -> bool:  # the top reader: it needs nothing more for 0.2 s
        seen.append(top.rest_s)
        top.rest_s = 0.2
        return True

    top.sink = reader
    middle = Tap(top.push, above=top)
    provider = Tap(middle.push, above=middle)
    assert provider.top is middle.top is top
    top.rest_s = 9.0  # stale: what an earlier push was told
    assert provider.push("w0 ")
    assert seen == [0.0]  # cleared before the reader took the text
    assert provider.rest() == 0.2
    assert provider.rest() == 0.0  # asking clears it
    assert not Tap().push("w1 ")
    assert Tap().rest() == 0.0


async def pushed_turn(
    words: list[str], script: Script, hold_s: float, window_chars: int = 160
) -> ScriptedProvider:
    """A narration whose provider pushes `script`'s words, checked inline; asserts the caller
    got them all. The provider, with what it was told of rests."""
    provider = ScriptedProvider("p", script)
    provider.pushes = True
    narrator, _, sid = await setup(provider, Recording(instant=True), window_chars, hold_s)
    events = [e async for e in narrator.narrate(LOCAL, sid, "I wait", Scene())]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "".join(words)
    return provider


async def test_held_words_let_the_provider_rest_until_they_are_due() -> None:
    """The output check tells the provider, at each pushed piece that leaves words held, how
    long until they are due: never longer than the hold, and until a tick of the hold's
    shared clock (half the hold), when the window closes."""
    words = [f"w{i} " for i in range(12)]
    provider = await pushed_turn(words, Script(words, pause=0.02), hold_s=0.4)
    assert len(provider.rests) == provider.pushed > len(words) // 2
    assert all(0.0 <= rest <= 0.4 for rest in provider.rests)
    told = [end for rest, end in zip(provider.rests, provider.rest_ends, strict=True) if rest]
    assert len(told) > len(provider.rests) // 2  # (0: the push closed a window, it was due)
    for end in told:
        assert min(end % 0.2, 0.2 - end % 0.2) < 0.002  # on the tick


async def test_once_held_words_went_out_the_provider_is_asked_to_rest_until_the_next_are_due() -> (
    None
):
    """The words a hold's deadline sends: the output check asks the provider to rest at once
    (not at its next read) until text read from then on would be due, a tick of the shared
    clock at most a hold away."""
    words = [f"w{i} " for i in range(12)]
    provider = await pushed_turn(words, Script(words, pause=0.02), hold_s=0.1)
    assert provider.asked  # the fake never takes it, so it is asked at every deadline
    for when, seconds in provider.asked:
        assert 0.0 < seconds <= 0.1
        end = when + seconds
        assert min(end % 0.05, 0.05 - end % 0.05) < 0.002  # on the tick


async def test_a_fast_stream_is_never_told_to_rest_longer_than_its_windows_take_to_fill() -> None:
    """Words held are due in up to 5 s, but at the pace the turn's text comes (a word every
    millisecond or so) a 40-character window fills in a few dozen: a rest never runs past
    that, so a fast model's text is not held back waiting to be read."""
    words = [f"w{i:02d} " for i in range(60)]
    provider = await pushed_turn(words, Script(words, pause=0.001), window_chars=40, hold_s=5.0)
    assert provider.rests
    assert max(provider.rests) < 1.0  # due in up to 5 s: without the pace, ~2.5-5 s


async def test_text_read_after_a_rest_that_ran_late_is_not_held_again() -> None:
    """A provider that rests past the deadline of the words held (its loop ran late): they go
    out when due, and the text it reads next may have waited since the rest began, so it goes
    out at once instead of waiting a hold of its own."""
    words = ["w0 ", "w1 ", "w2 ", "w3 ", "w4 "]
    provider = ScriptedProvider("p", Script(words, rest_late=0.3))
    provider.pushes = True
    moderator = Recording(instant=True)
    narrator, _, sid = await setup(provider, moderator, hold_s=0.2)
    events = [e async for e in narrator.narrate(LOCAL, sid, "I wait", Scene())]
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "w0 ", "w1 w2 ", "w3 ", "w4 "
    ]  # fmt: skip
    # w0, w1: read before the pump (not pushed). w2: held with w1, a rest, overslept. w3:
    # due as it is read, so out at once: no rest. w4: held again, a rest.
    assert len(provider.rests) == 3
    assert provider.rests[0] > 0.0
    assert provider.rests[1] == 0.0
    assert provider.rests[2] > 0.0


def test_a_reader_that_needs_only_the_whole_text_lets_the_provider_rest() -> None:
    gathered = Gathered(10)
    assert gathered.tap.push("abcdef")
    assert gathered.tap.rest() == Gathered.rest_s > 0  # a summary: read a piece at a time
    assert not gathered.tap.push("ghijklm")  # past the limit: not taken, no rest
    assert gathered.tap.rest() == 0.0
    assert gathered.parts == ["abcdef"]
