"""Shutdown and slow or failing stores: the engine cancels each turn once, counts a turn until
its save ends, bounds the wait, keeps what it could not store, and never swallows a caller's
own cancellation."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from narrator_server.core.errors import StoreUnavailable, TurnAborted
from narrator_server.core.models import (
    LOCAL,
    PlayerCharacter,
    Scene,
    Setting,
    TextDelta,
    TurnStatus,
)
from narrator_server.core.narrator import Narrator, NarratorConfig
from narrator_server.store.memory import MemoryStore
from narrator_server.turnlog.local import LocalTurnLog

from .fakes import Script, ScriptedProvider

TURN_LOG = LocalTurnLog

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from narrator_server.core.memory_models import TurnRecord
    from narrator_server.core.models import Turn, TurnEvent


class SlowStore(MemoryStore):
    """Saves wait until `release` is set; `fail` makes them raise StoreUnavailable."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False
        self.saving = 0
        self.saves: list[Turn] = []

    async def save_turn(self, turn: Turn, record: TurnRecord | None = None) -> None:
        self.saving += 1
        try:
            await self.release.wait()
            if self.fail:
                raise StoreUnavailable("storage unavailable: the disk is full")
            self.saves.append(turn)
            await super().save_turn(turn, record)
        finally:
            self.saving -= 1


async def setup(
    *scripts: Script, window: float = 10.0
) -> tuple[Narrator, SlowStore, ScriptedProvider, str]:
    store = SlowStore()
    provider = ScriptedProvider("p", *scripts)
    narrator = Narrator(provider, store, TURN_LOG(), NarratorConfig(resume_window=window))
    session = await narrator.create_session(LOCAL, Setting("a crypt"), PlayerCharacter("Ash"), 1)
    return narrator, store, provider, session.session_id


def long_script() -> Script:
    return Script(["a "] * 400, pause=0.005)


async def first_delta(events: AsyncIterator[TurnEvent]) -> None:
    async for event in events:
        if isinstance(event, TextDelta):
            return
    raise AssertionError("no delta")


async def until(condition: Any) -> None:
    """Waits for a state of the engine (no deadline: pytest-timeout guards hangs)."""
    while not condition():  # noqa: ASYNC110 - the state has no event to wait on
        await asyncio.sleep(0.005)


async def test_drain_does_not_report_success_while_saves_still_run() -> None:
    narrator, store, _, sid = await setup(long_script(), long_script())
    calls = [narrator.narrate(LOCAL, sid, "I wait", Scene(), turn_id=f"t{i}") for i in range(2)]
    for call in calls:
        await first_delta(call)
    store.release.clear()  # every save from now on is slow

    assert await narrator.drain(timeout=0.05) is False  # bounded, and honest
    assert store.saving == 2
    assert narrator.live_turns == 2
    assert await narrator.drain(timeout=0.05) is False  # a second drain cancels nothing again
    store.release.set()
    assert await narrator.drain() is True
    assert narrator.live_turns == 0
    statuses = {t.turn_id: t.status for t in store.turns[sid]}
    assert statuses == {"t0": TurnStatus.CANCELLED, "t1": TurnStatus.CANCELLED}
    assert [t.status for t in store.saves] == [TurnStatus.CANCELLED] * 2  # stored once each
    for call in calls:
        with pytest.raises(TurnAborted, match="cancelled"):
            [e async for e in call]  # the rest of what it had said, then the end


async def test_a_turn_cancelled_twice_is_still_stored_once_and_counted_until_then() -> None:
    narrator, store, _, sid = await setup(long_script())
    call = narrator.narrate(LOCAL, sid, "I wait", Scene(), turn_id="twice")
    await first_delta(call)
    store.release.clear()
    task = narrator.engine.book.tasks[(sid, "twice")]
    task.cancel()
    await until(lambda: store.saving == 1)
    task.cancel()  # e.g. the reaper and the shutdown both
    await asyncio.sleep(0.01)
    assert narrator.live_turns == 1
    assert await narrator.drain(timeout=0.05) is False
    store.release.set()
    assert await narrator.drain() is True
    (turn,) = store.turns[sid]
    assert turn.status is TurnStatus.CANCELLED
    assert len(store.saves) == 1


async def test_a_resume_during_a_slow_save_follows_the_turn_to_its_real_end() -> None:
    narrator, store, _, sid = await setup(long_script())
    turn_log = narrator.engine._log
    assert isinstance(turn_log, LocalTurnLog)
    call = narrator.narrate(LOCAL, sid, "I wait", Scene(), turn_id="late")
    await first_delta(call)
    store.release.clear()
    narrator.engine.book.stop((sid, "late"))
    await until(lambda: store.saving == 1)
    assert store.turns[sid][0].status is TurnStatus.RUNNING  # the save has not landed yet
    resumed = narrator.narrate(LOCAL, sid, "I wait", Scene(), turn_id="late", resume_after_seq=1)
    resume = asyncio.create_task(first_delta(resumed))
    await until(lambda: turn_log._turns[(sid, "late")].followers == 2)
    store.release.set()
    with pytest.raises(TurnAborted, match="cancelled"):
        await resume
    assert await narrator.drain() is True
    (turn,) = store.turns[sid]
    assert turn.status is TurnStatus.CANCELLED  # not INTERRUPTED: it ended as it ended


async def test_the_callers_own_cancellation_propagates_while_the_save_is_slow() -> None:
    narrator, store, _, sid = await setup(long_script())
    started = asyncio.Event()

    async def play() -> None:
        async for event in narrator.narrate(LOCAL, sid, "I wait", Scene()):
            if isinstance(event, TextDelta):
                store.release.clear()
                started.set()

    task = asyncio.create_task(play())
    await started.wait()
    task.cancel()
    await until(lambda: store.saving == 1)
    with pytest.raises(asyncio.CancelledError):
        await task  # not swallowed by the shielded save
    assert task.cancelled()
    assert narrator.live_turns == 1
    store.release.set()
    assert await narrator.drain() is True
    assert store.turns[sid][0].status is TurnStatus.CANCELLED


async def test_a_cancelled_drain_propagates_its_cancellation() -> None:
    narrator, store, _, sid = await setup(long_script())
    call = narrator.narrate(LOCAL, sid, "I wait", Scene(), turn_id="t")
    await first_delta(call)
    store.release.clear()
    drain = asyncio.create_task(narrator.drain(timeout=30))
    await until(lambda: store.saving == 1)
    drain.cancel()
    with pytest.raises(asyncio.CancelledError):
        await drain
    store.release.set()
    assert await narrator.drain() is True


async def test_drain_stores_the_turns_a_failing_store_kept_when_it_works_again() -> None:
    narrator, store, _, sid = await setup(long_script())
    call = narrator.narrate(LOCAL, sid, "I wait", Scene(), turn_id="kept")
    await first_delta(call)
    store.fail = True
    assert await narrator.drain() is False
    assert (sid, "kept") in narrator.engine.unsaved
    store.fail = False
    assert await narrator.drain() is True
    assert not narrator.engine.unsaved
    assert store.turns[sid][0].status is TurnStatus.CANCELLED


async def test_a_regeneration_kept_in_memory_supersedes_its_turn_when_stored() -> None:
    narrator, store, _, sid = await setup(Script(["First."]), Script(["Second."]))
    [e async for e in narrator.narrate(LOCAL, sid, "I look", Scene(), turn_id="one")]
    store.fail = True
    with pytest.raises(StoreUnavailable):
        [e async for e in narrator.narrate(LOCAL, sid, "I look", Scene(), regenerate=True)]
    store.fail = False
    assert await narrator.engine.retry_unsaved() is True
    first, second = store.turns[sid]
    assert (first.turn_id, first.superseded) == ("one", True)
    assert (second.text, second.status, second.replaces_turn_id) == (
        "Second.",
        TurnStatus.COMPLETED,
        "one",
    )


async def test_followers_of_a_turn_that_could_not_start_get_its_error() -> None:
    narrator, store, provider, sid = await setup()
    turn_log = narrator.engine._log
    assert isinstance(turn_log, LocalTurnLog)
    gate = asyncio.Event()
    claim = store.claim_turn

    async def failing_claim(turn: Turn) -> Turn | None:
        await gate.wait()
        raise StoreUnavailable("storage unavailable: the disk is full")

    store.claim_turn = failing_claim  # type: ignore[method-assign]
    one = asyncio.create_task(first_delta(narrator.narrate(LOCAL, sid, "a", Scene(), turn_id="x")))
    await until(lambda: (sid, "x") in turn_log._turns)
    two = asyncio.create_task(first_delta(narrator.narrate(LOCAL, sid, "a", Scene(), turn_id="x")))
    await until(lambda: turn_log._turns[(sid, "x")].followers == 1)  # it joined the claim
    gate.set()
    for task in (one, two):
        with pytest.raises(StoreUnavailable, match="disk is full"):
            await task
    store.claim_turn = claim  # type: ignore[method-assign]
    assert provider.requests == []
    assert store.turns[sid] == []
