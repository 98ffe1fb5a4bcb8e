"""The turn runner and the use cases, with a scripted provider and the in-memory store."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing

import pytest

from narrator_server.core.breaker import CircuitBreaker
from narrator_server.core.errors import (
    SessionNotFound,
    StreamInterrupted,
    UpstreamUnavailable,
)
from narrator_server.core.models import (
    LOCAL,
    DecisionMade,
    DecisionOption,
    DecisionSource,
    PlayerCharacter,
    Recovery,
    RecoveryReason,
    Scene,
    Setting,
    TextDelta,
    TurnCompleted,
    TurnStarted,
    TurnStatus,
)
from narrator_server.core.narrator import Narrator
from narrator_server.providers.chain import ProviderChain, Upstream, UpstreamSlots
from narrator_server.store.memory import MemoryStore
from narrator_server.turnlog.local import LocalTurnLog

from .fakes import Script, ScriptedProvider


def chain(primary: ScriptedProvider, backup: ScriptedProvider) -> ProviderChain:
    return ProviderChain([Upstream("up", primary, CircuitBreaker())], backup, UpstreamSlots(10))


async def setup(provider: ScriptedProvider | ProviderChain) -> tuple[Narrator, MemoryStore, str]:
    store = MemoryStore()
    narrator = Narrator(provider, store, LocalTurnLog())
    session = await narrator.create_session(LOCAL, Setting("a crypt"), PlayerCharacter("Ash"), 1)
    return narrator, store, session.session_id


async def test_events_come_in_order_and_the_turn_is_stored() -> None:
    narrator, store, sid = await setup(ScriptedProvider("p", Script(["A ", "b ", "c."])))
    events = [e async for e in narrator.narrate(LOCAL, sid, "I look", Scene())]
    assert isinstance(events[0], TurnStarted)
    assert [e.seq for e in events[1:-1] if isinstance(e, TextDelta)] == [1, 2, 3]
    assert isinstance(events[-1], TurnCompleted)
    assert events[-1].text == "A b c."
    (turn,) = store.turns[sid]
    assert (turn.status, turn.text, turn.provider) == (TurnStatus.COMPLETED, "A b c.", "p")


async def test_closing_the_stream_cancels_the_turn_and_the_provider() -> None:
    provider = ScriptedProvider("p", Script(["a "] * 50))
    narrator, store, sid = await setup(provider)
    async with aclosing(narrator.narrate(LOCAL, sid, "I look", Scene())) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break
    await narrator.drain()
    (turn,) = store.turns[sid]
    assert (turn.status, turn.text) == (TurnStatus.CANCELLED, "a ")
    assert provider.closed_early == 1


async def test_task_cancellation_stores_the_partial_turn() -> None:
    provider = ScriptedProvider("p", Script(["a "] * 50, pause=0.01))
    narrator, store, sid = await setup(provider)
    first = asyncio.Event()

    async def consume() -> None:
        async for event in narrator.narrate(LOCAL, sid, "I look", Scene()):
            if isinstance(event, TextDelta):
                first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await narrator.drain()
    assert store.turns[sid][0].status is TurnStatus.CANCELLED


async def test_a_failure_mid_stream_is_continued_from_the_partial_text() -> None:
    broken = Script(["a ", "b ", "c "], fail_after=2, fail_with=StreamInterrupted("broke"))
    provider = ScriptedProvider("p", broken, Script(["c ", "d."]))
    narrator, store, sid = await setup(provider)
    events = [e async for e in narrator.narrate(LOCAL, sid, "I look", Scene())]
    assert [type(e).__name__ for e in events].count("TurnStarted") == 1
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert [(d.seq, d.text) for d in deltas] == [(1, "a "), (2, "b "), (3, "c "), (4, "d.")]
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.text == "a b c d."
    assert completed.recoveries == (Recovery("p", "p-model", 2, RecoveryReason.UPSTREAM_FAILED),)
    continuation = provider.requests[1]
    assert continuation.continuation == "a b "
    assert continuation.messages[-2].role == "assistant"
    assert continuation.messages[-2].content == "a b "
    turn = store.turns[sid][0]
    assert (turn.status, turn.recoveries, turn.delta_lengths) == (
        TurnStatus.COMPLETED,
        completed.recoveries,
        (2, 2, 2, 2),
    )


async def test_when_nothing_can_continue_the_turn_fails_with_its_partial_text() -> None:
    def broken(word: str) -> Script:
        return Script([word, "b ", "c "], fail_after=1, fail_with=StreamInterrupted("broke"))

    provider = ScriptedProvider("p", broken("one "), broken("two "), broken("three "))
    narrator, store, sid = await setup(provider)
    with pytest.raises(StreamInterrupted):
        async for _ in narrator.narrate(LOCAL, sid, "I look", Scene()):
            pass
    turn = store.turns[sid][0]
    assert (turn.status, turn.text) == (TurnStatus.FAILED, "one two three ")
    assert turn.usage.estimated
    assert turn.usage.output_tokens > 0
    assert len(turn.recoveries) == 2


async def test_the_next_provider_continues_when_the_first_stays_broken() -> None:
    script = Script(["a ", "b "], fail_after=1, fail_with=StreamInterrupted("broke"))
    primary = ScriptedProvider("up", script, Script(fail_before_open=UpstreamUnavailable("down")))
    backup = ScriptedProvider("offline", Script(["rest."]))
    narrator, _, sid = await setup(chain(primary, backup))
    events = [e async for e in narrator.narrate(LOCAL, sid, "I look", Scene())]
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.text == "a rest."
    assert completed.recoveries == (
        Recovery("offline", "offline-model", 1, RecoveryReason.UPSTREAM_FAILED),
    )


async def test_history_holds_completed_turns_only() -> None:
    provider = ScriptedProvider("p", Script(["First."]), Script(["x "] * 9), Script(["Third."]))
    narrator, _, sid = await setup(provider)
    async for _ in narrator.narrate(LOCAL, sid, "one", Scene()):
        pass
    async with aclosing(narrator.narrate(LOCAL, sid, "zebra", Scene())) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break
    async for _ in narrator.narrate(LOCAL, sid, "three", Scene()):
        pass
    contents = [m.content for m in provider.requests[2].messages]
    assert "First." in contents
    assert not any("zebra" in c for c in contents)


async def test_unknown_session() -> None:
    narrator, _, _ = await setup(ScriptedProvider("p"))
    with pytest.raises(SessionNotFound):
        async for _ in narrator.narrate(LOCAL, "nope", "I look", Scene()):
            pass


OPTIONS = (
    DecisionOption(
        "hit",
        "hit",
        '{"type":"object","properties":{"n":{"type":"integer","minimum":2}},"required":["n"]}',
    ),
    DecisionOption("wait", "wait"),
)


def answer(option_id: str, arguments: object, rationale: str = "Because.") -> list[str]:
    text = json.dumps(
        {"rationale": rationale, "decision": {"option_id": option_id, "arguments": arguments}}
    )
    return [text[i : i + 3] for i in range(0, len(text), 3)]


@pytest.mark.parametrize(
    ("scripts", "expected"),
    [
        ([Script(answer("hit", {"n": 3}))], ("hit", {"n": 3}, DecisionSource.MODEL)),
        (
            [Script(answer("hit", {"n": 1})), Script(answer("wait", {}))],
            ("wait", {}, DecisionSource.REPAIRED),
        ),
        (
            [Script(["{not json"]), Script(["still not"])],
            ("hit", {"n": 2}, DecisionSource.FALLBACK),
        ),
        (
            [Script(answer("zzz", {})), Script(fail_before_open=UpstreamUnavailable("down"))],
            ("hit", {"n": 2}, DecisionSource.FALLBACK),
        ),
    ],
)
async def test_decisions_are_valid_repaired_or_fallen_back(
    scripts: list[Script], expected: tuple[str, object, DecisionSource]
) -> None:
    narrator, store, sid = await setup(ScriptedProvider("p", *scripts))
    events = [e async for e in narrator.decide(LOCAL, sid, "Now?", OPTIONS, "", Scene())]
    (made,) = [e for e in events if isinstance(e, DecisionMade)]
    d = made.decision
    assert (d.option_id, json.loads(d.arguments_json), d.source) == expected
    assert isinstance(events[-1], TurnCompleted)
    assert store.turns[sid][0].decision == d


async def test_the_last_recovery_goes_to_the_offline_narrator() -> None:
    def broken(word: str) -> Script:
        return Script([word, "b ", "c "], fail_after=1, fail_with=StreamInterrupted("broke"))

    primary = ScriptedProvider("up", broken("one "), broken("two "), broken("three "))
    backup = ScriptedProvider("offline", Script(["end."]))
    narrator, _, sid = await setup(chain(primary, backup))
    events = [e async for e in narrator.narrate(LOCAL, sid, "I look", Scene())]
    completed = events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.text == "one two end."
    assert [r.provider for r in completed.recoveries] == ["up", "offline"]
    assert [r.reason for r in completed.recoveries] == [
        RecoveryReason.UPSTREAM_FAILED,
        RecoveryReason.LAST_CHANCE,
    ]
    assert len(primary.requests) == 2
