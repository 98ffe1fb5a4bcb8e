"""The input check and the output check in sentence windows, with fake moderators (instant
and slow) and the scripted provider: no unchecked text ever reaches the caller."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.breaker import CircuitBreaker
from narrator_server.core.errors import ContentRejected, StreamInterrupted, UpstreamUnavailable
from narrator_server.core.models import (
    LOCAL,
    ContentRating,
    DecisionMade,
    DecisionOption,
    DecisionSource,
    FinishReason,
    PlayerCharacter,
    Scene,
    Setting,
    TextDelta,
    TurnCompleted,
    TurnEvent,
    TurnStatus,
    Usage,
)
from narrator_server.core.moderation import Direction, ModerationConfig, Verdict
from narrator_server.core.narrator import Narrator, NarratorConfig
from narrator_server.core.ports import StreamFinished, StreamOpened, TextChunk
from narrator_server.core.windows import Windows
from narrator_server.providers.chain import ProviderChain, Upstream, UpstreamSlots
from narrator_server.store.memory import MemoryStore
from narrator_server.turnlog.local import LocalTurnLog

from .fakes import Script, ScriptedProvider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from narrator_server.core.ports import ChatEvent, ChatProvider, ChatRequest

BAD = "FORBIDDEN"


@pytest.fixture(autouse=True, params=[False, True], ids=["yielded", "pushed"])
def pushes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every case twice: the provider yields its text, or pushes it up the tap (`tap.py`)."""
    monkeypatch.setattr(ScriptedProvider, "pushes", request.param)
    return bool(request.param)


class Recording:
    """Refuses any text holding BAD. `allowed` is every window it allowed, in order (the
    text a caller may have seen is always a prefix of it). Slow ones wait `delay` a check."""

    name = "fake"

    def __init__(self, instant: bool = True, delay: float = 0.0) -> None:
        self.instant = instant
        self.delay = delay
        self.allowed = ""
        self.windows: list[str] = []
        self.inputs: list[str] = []
        self.in_flight = self.max_in_flight = 0

    async def check(
        self, text: str, rating: ContentRating, direction: Direction, context: str = ""
    ) -> Verdict:
        if direction is Direction.INPUT:
            self.inputs.append(text)
            return Verdict("violence/graphic" if BAD in text else "", self.name)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if not self.instant:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.windows.append(text)
        if BAD in text:
            return Verdict("violence/graphic", self.name)
        self.allowed += text
        return Verdict(source=self.name)


async def setup(
    provider: ChatProvider, moderator: Recording, window_chars: int = 160, hold_s: float = 5.0
) -> tuple[Narrator, MemoryStore, str]:
    store = MemoryStore()
    config = NarratorConfig(moderation=ModerationConfig(window_chars=window_chars, hold_s=hold_s))
    narrator = Narrator(provider, store, LocalTurnLog(), config, moderator=moderator)
    session = await narrator.create_session(LOCAL, Setting("a crypt"), PlayerCharacter("Ash"), 1)
    return narrator, store, session.session_id


async def watched(moderator: Recording, events: object, seen: str = "") -> list[TurnEvent]:
    """The events, asserting at each delta that what the caller got so far (after `seen`)
    was checked."""
    got = []
    async for event in events:  # type: ignore[attr-defined]
        if isinstance(event, TextDelta):
            seen += event.text
            assert moderator.allowed.startswith(seen), (seen, moderator.allowed)
        got.append(event)
    return got


def deltas(events: list[TurnEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


SAFE_THEN_BAD = ["The door ", "opens. ", "A goblin ", "waits. ", "Then ", BAD, " things. ",
                 "More text ", "follows."]  # fmt: skip


@pytest.mark.parametrize("instant", [True, False])
async def test_a_refused_window_ends_the_turn_at_the_last_safe_sentence(instant: bool) -> None:
    provider = ScriptedProvider("p", Script(SAFE_THEN_BAD, pause=0.01))
    moderator = Recording(instant, delay=0.005)
    narrator, store, sid = await setup(provider, moderator)
    events = await watched(moderator, narrator.narrate(LOCAL, sid, "I look", Scene()))
    assert "".join(deltas(events)) == "The door opens. A goblin waits."
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.finish_reason is FinishReason.CONTENT_FILTER
    assert completed.text == "The door opens. A goblin waits."
    (turn,) = store.turns[sid]
    assert (turn.status, turn.finish_reason, turn.text) == (
        TurnStatus.COMPLETED,
        FinishReason.CONTENT_FILTER,
        "The door opens. A goblin waits.",
    )
    assert provider.closed_early == 1  # the upstream request ended at the refusal
    assert not any("More text" in w for w in moderator.windows)


@pytest.mark.parametrize("instant", [True, False])
async def test_allowed_text_arrives_whole_in_sentence_windows(instant: bool) -> None:
    chunks = ["You ", "light ", "the torch. ", "Shadows ", "flee! ", "Water ", "drips"]
    moderator = Recording(instant, delay=0.005)
    narrator, store, sid = await setup(ScriptedProvider("p", Script(chunks)), moderator)
    events = await watched(moderator, narrator.narrate(LOCAL, sid, "I look", Scene()))
    assert "".join(deltas(events)) == "".join(chunks)
    # The first complete word goes out at once; then whole sentences.
    assert moderator.windows[0] == "You "
    assert "".join(moderator.windows) == "".join(chunks)
    if instant:  # (slow checks take the windows that closed meanwhile together)
        assert moderator.windows == ["You ", "light the torch.", " Shadows flee!", " Water drips"]
    assert isinstance(events[-1], TurnCompleted)
    assert events[-1].finish_reason is FinishReason.STOP
    assert store.turns[sid][0].text == "".join(chunks)


@pytest.mark.parametrize("instant", [True, False])
async def test_the_hold_back_is_bounded_by_the_window_size(instant: bool) -> None:
    """A sentence that never ends is released in windows of at most 40 characters, long
    before the stream does."""
    chunks = [f"word{i} " for i in range(60)] + ["end."]
    provider = ScriptedProvider("p", Script(chunks, pause=0.001))
    moderator = Recording(instant, delay=0.001)
    narrator, _, sid = await setup(provider, moderator, window_chars=40)
    first_at_chunk = None
    events = []
    async for event in narrator.narrate(LOCAL, sid, "I wait", Scene()):
        if isinstance(event, TextDelta) and first_at_chunk is None:
            first_at_chunk = len(provider.requests) and sum(1 for w in moderator.windows)
        events.append(event)
    assert all(len(w) <= 40 for w in moderator.windows)
    assert len(moderator.windows) >= len("".join(chunks)) // 40
    assert "".join(deltas(events)) == "".join(chunks)
    assert first_at_chunk == 1  # the first delta came out of the first window


class Paused:
    """Sends "The floor ", then waits until `go` is set, then ends its sentence."""

    name = "paused"

    def __init__(self) -> None:
        self.go = asyncio.Event()

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        yield StreamOpened(self.name, "m")
        yield TextChunk("The ")
        yield TextChunk("floor ")
        yield TextChunk("gi")
        await self.go.wait()
        yield TextChunk("ves way.")
        yield StreamFinished(FinishReason.STOP, Usage(1, 4))


@pytest.mark.parametrize("instant", [True, False])
async def test_a_stream_that_pauses_mid_sentence_shows_its_words_after_the_hold(
    instant: bool,
) -> None:
    provider = Paused()
    moderator = Recording(instant, delay=0.001)
    narrator, _, sid = await setup(provider, moderator, hold_s=0.05)
    events = narrator.narrate(LOCAL, sid, "I step", Scene())
    seen = ""
    async for event in events:
        if isinstance(event, TextDelta):
            seen += event.text
            assert moderator.allowed.startswith(seen)
            if seen == "The floor ":
                break
    # The complete words went out while the model paused (the first at once, the next once
    # the hold passed); the word arriving did not.
    provider.go.set()
    rest = await watched(moderator, events, seen)
    assert seen + "".join(deltas(rest)) == "The floor gives way."
    assert isinstance(rest[-1], TurnCompleted)
    assert rest[-1].finish_reason is FinishReason.STOP


async def test_slow_checks_are_pipelined_and_bounded() -> None:
    """A moderator that waits on a service: windows are checked while the stream goes on, at
    most two at once, and the whole text arrives in order."""
    chunks = [f"Sentence {i}. " for i in range(30)]
    moderator = Recording(instant=False, delay=0.02)
    narrator, _, sid = await setup(ScriptedProvider("p", Script(chunks)), moderator)
    events = await watched(moderator, narrator.narrate(LOCAL, sid, "I wait", Scene()))
    assert "".join(deltas(events)) == "".join(chunks)
    assert moderator.max_in_flight == 2
    # Windows that closed while two checks ran were checked together: fewer checks.
    assert len(moderator.windows) < len(chunks)


async def test_windows_refused_together_still_end_at_the_last_safe_sentence() -> None:
    """Checks slower than the stream take several sentences at once; when such a batch is
    refused, its sentences are checked one by one and the safe ones before the bad one go
    out."""
    chunks = [f"Safe {i}. " for i in range(12)] + [f"Then {BAD}. ", "After."]
    moderator = Recording(instant=False, delay=0.02)
    narrator, store, sid = await setup(ScriptedProvider("p", Script(chunks)), moderator)
    events = await watched(moderator, narrator.narrate(LOCAL, sid, "I wait", Scene()))
    safe = "".join(chunks[:12]).rstrip()
    assert "".join(deltas(events)) == safe
    assert any(w.count("Safe") > 1 and BAD in w for w in moderator.windows)  # a batch refused
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert (completed.finish_reason, completed.text) == (FinishReason.CONTENT_FILTER, safe)
    assert store.turns[sid][0].text == safe


async def test_a_refused_input_asks_nothing_and_stores_nothing() -> None:
    provider = ScriptedProvider("p")
    moderator = Recording()
    narrator, store, sid = await setup(provider, moderator)
    with pytest.raises(ContentRejected) as caught:
        await watched(moderator, narrator.narrate(LOCAL, sid, f"I do {BAD} things", Scene()))
    error = caught.value
    assert (error.field, error.category, error.rating) == ("action", "violence/graphic", "teen")
    assert BAD not in str(error)
    assert provider.requests == []
    assert store.turns.get(sid, []) == []
    with pytest.raises(ContentRejected) as caught:
        await watched(moderator, narrator.decide(LOCAL, sid, BAD, OPTIONS, "", Scene()))
    assert caught.value.field == "question"
    assert provider.requests == []


async def test_a_refused_character_creates_no_session() -> None:
    store = MemoryStore()
    narrator = Narrator(ScriptedProvider("p"), store, LocalTurnLog(), moderator=Recording())
    with pytest.raises(ContentRejected) as caught:
        await narrator.create_session(
            LOCAL, Setting("w"), PlayerCharacter("Ash", f"a {BAD} knight"), 1
        )
    assert caught.value.field == "player.description"
    assert store.sessions == {}


OPTIONS = (DecisionOption("say", "say", '{"type":"object","properties":{"w":{"type":"string"}}}'),
           DecisionOption("wait", "wait"))  # fmt: skip


def answer(option_id: str, arguments: object, rationale: str) -> list[str]:
    text = json.dumps(
        {"rationale": rationale, "decision": {"option_id": option_id, "arguments": arguments}}
    )
    return [text[i : i + 5] for i in range(0, len(text), 5)]


@pytest.mark.parametrize("instant", [True, False])
async def test_a_decision_keeps_its_checked_rationale_and_a_safe_decision(instant: bool) -> None:
    scripts = [Script(answer("say", {"w": f"a {BAD} word"}, f"The guard hesitates. {BAD} now."))]
    moderator = Recording(instant, delay=0.005)
    narrator, store, sid = await setup(ScriptedProvider("p", *scripts), moderator)
    events = await watched(moderator, narrator.decide(LOCAL, sid, "Now?", OPTIONS, "wait", Scene()))
    assert "".join(deltas(events)) == "The guard hesitates."
    (made,) = [e for e in events if isinstance(e, DecisionMade)]
    # Its arguments said what the rating refuses: the default option's fallback instead.
    assert (made.decision.option_id, made.decision.source) == ("wait", DecisionSource.FALLBACK)
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.finish_reason is FinishReason.CONTENT_FILTER
    (turn,) = store.turns[sid]
    assert (turn.finish_reason, turn.decision) == (FinishReason.CONTENT_FILTER, made.decision)


def test_windows_close_at_sentences_size_and_time() -> None:
    w = Windows(max_chars=20, hold_s=0.1)
    # A window ends with its sentence; the space after it opens the next one.
    assert w.feed("Hi there. How", 0.0) == ["Hi there."]
    assert w.feed(" are", 0.05) == []
    # The oldest held text waited 0.1 s: its complete words go out, the word arriving stays.
    assert w.feed(" yo", 0.2) == [" How are "]
    # 20 characters at most, cut after the last complete word.
    assert w.feed("u doing with all this", 0.25) == ["you doing with all "]
    assert w.held == "this"
    assert w.feed("? Yes. And", 0.3) == ["this?", " Yes."]
    assert w.rest() == " And"
    assert Windows(20, 1.0).feed('"Run!" she says.\nGo', 0.0) == ['"Run!"', " she says.", "\n"]


def chain(primary: ScriptedProvider, backup: ScriptedProvider | None) -> ProviderChain:
    return ProviderChain([Upstream("up", primary, CircuitBreaker())], backup, UpstreamSlots(10))


async def taken_over(
    primary: ScriptedProvider, moderator: Recording, before: str
) -> tuple[list[TurnEvent], MemoryStore, str]:
    """A turn whose upstream breaks once (the offline narrator behind it): its events, checking
    that the one recovery's `after_seq` ends the text `before` it."""
    narrator, store, sid = await setup(chain(primary, ScriptedProvider("offline")), moderator)
    events = await watched(moderator, narrator.narrate(LOCAL, sid, "I push", Scene()))
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    (recovery,) = completed.recoveries
    sent = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in sent if d.seq <= recovery.after_seq) == before
    return events, store, sid


@pytest.mark.parametrize("instant", [True, False])
async def test_a_takeover_releases_the_held_text_first(instant: bool) -> None:
    """The words held when the upstream broke are checked and sent before the continuation:
    the recovery's after_seq still ends the text of the provider that failed."""
    broken = Script(["The lid ", "groans as ", "-"], fail_after=2, fail_with=StreamInterrupted("x"))
    primary = ScriptedProvider("up", broken, Script(["it opens."]))
    moderator = Recording(instant, delay=0.001)
    events, store, sid = await taken_over(primary, moderator, "The lid groans as ")
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.text == "The lid groans as it opens."
    assert store.turns[sid][0].recoveries == completed.recoveries


async def test_a_takeover_between_paced_words_is_handled_in_order() -> None:
    """Words one at a time, the output check waiting for each: the pump feeds them for it,
    but a takeover's words are handed over, so the held words still go out first."""
    broken = Script(
        ["The ", "lid ", "groans ", "as ", "-"], fail_after=4, fail_with=StreamInterrupted("x"),
        pause=0.002,
    )  # fmt: skip
    primary = ScriptedProvider(
        "up", broken, Script(["it ", "opens. ", "Dust ", "falls."], pause=0.002)
    )
    moderator = Recording(instant=True)
    events, _, _ = await taken_over(primary, moderator, "The lid groans as ")
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.text == "The lid groans as it opens. Dust falls."
    assert "".join(deltas(events)) == completed.text
    # The words held at the takeover were checked and sent as a window of their own.
    assert moderator.windows == ["The ", "lid groans as ", "it opens.", " Dust falls."]


@pytest.mark.parametrize("instant", [True, False])
async def test_a_failed_turn_keeps_its_checked_text(instant: bool) -> None:
    broken = Script(["One ", "two ", "thr", "-"], fail_after=3, fail_with=StreamInterrupted("x"))
    down = Script(fail_before_open=UpstreamUnavailable("down"))
    primary = ScriptedProvider("up", broken, *[down] * 5)
    moderator = Recording(instant, delay=0.001)
    narrator, store, sid = await setup(chain(primary, None), moderator)
    seen = ""
    with pytest.raises(UpstreamUnavailable):
        async for event in narrator.narrate(LOCAL, sid, "I count", Scene()):
            if isinstance(event, TextDelta):
                seen += event.text
                assert moderator.allowed.startswith(seen)
    assert seen == "One two thr"
    (turn,) = store.turns[sid]
    assert (turn.status, turn.text) == (TurnStatus.FAILED, "One two thr")
