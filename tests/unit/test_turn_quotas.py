"""Token reservations in the turn engine: held before the provider is asked, settled to the
real usage however the turn ends, released when it never ran."""

from __future__ import annotations

import pytest

from narrator_server.core.errors import QuotaExceeded, StoreUnavailable, UpstreamUnavailable
from narrator_server.core.models import Caller, KeyLimits, PlayerCharacter, Scene, Setting
from narrator_server.core.narrator import Narrator, NarratorConfig
from narrator_server.core.planning import PlanConfig
from narrator_server.core.quotas import Quotas
from narrator_server.quotas.local import LocalQuotaCounter
from narrator_server.store.memory import MemoryStore
from narrator_server.turnlog.local import LocalTurnLog

from .fakes import Script, ScriptedProvider

# Room for one turn's max_tokens (100) at a time, on a clock that stands still.
CALLER = Caller("studio", "k1", "", KeyLimits(tokens_per_minute=150))


async def setup(
    provider: ScriptedProvider, store: MemoryStore | None = None
) -> tuple[Narrator, MemoryStore, LocalTurnLog, Quotas, str]:
    store = store or MemoryStore()
    turn_log = LocalTurnLog()
    quotas = Quotas(LocalQuotaCounter(clock=lambda: 1000.0))
    config = NarratorConfig(plan=PlanConfig(max_tokens=100))
    narrator = Narrator(provider, store, turn_log, config, quotas=quotas)
    session = await narrator.create_session(CALLER, Setting("a crypt"), PlayerCharacter("Ash"))
    return narrator, store, turn_log, quotas, session.session_id


async def turn(narrator: Narrator, sid: str, turn_id: str = "") -> list[object]:
    return [e async for e in narrator.narrate(CALLER, sid, "I look", Scene(), turn_id=turn_id)]


async def test_a_completed_turn_settles_to_its_usage() -> None:
    provider = ScriptedProvider("p", Script(["A ", "b."]))  # usage: 10 in, 2 out
    narrator, _, _, quotas, sid = await setup(provider)
    await turn(narrator, sid)
    await turn(narrator, sid)  # 2 used + 100 held fits 150
    assert quotas.usage.totals["k1"].output_tokens == 4
    assert len(provider.requests) == 2


async def test_a_refused_turn_claims_nothing() -> None:
    provider = ScriptedProvider("p", Script(["A ", "b."], pause=0.05))
    narrator, store, turn_log, _, sid = await setup(provider)
    running = narrator.narrate(CALLER, sid, "I look", Scene())
    await anext(running)  # started: it holds 100 of the 150
    with pytest.raises(QuotaExceeded) as caught:
        await turn(narrator, sid)
    assert caught.value.violations[0].limit == "tokens_per_minute"
    assert len(store.turns[sid]) == 1
    assert turn_log.running == 1
    assert [e async for e in running]
    await turn(narrator, sid)  # settled to 2: there is room again
    assert len(provider.requests) == 2


async def test_a_failed_or_cancelled_turn_gives_its_reservation_back() -> None:
    provider = ScriptedProvider(
        "p",
        Script(fail_before_open=UpstreamUnavailable("down")),  # the turn fails
        Script(["x "] * 50, pause=0.01),
    )
    narrator, _, _, _, sid = await setup(provider)
    with pytest.raises(UpstreamUnavailable):
        await turn(narrator, sid)
    events = narrator.narrate(CALLER, sid, "I run", Scene())
    await anext(events)
    await anext(events)
    await events.aclose()  # the player skipped: cancelled mid-stream
    await turn(narrator, sid)  # would be refused if either reservation were still held


async def test_a_turn_that_cannot_be_claimed_gives_its_reservation_back() -> None:
    class FailingClaims(MemoryStore):
        fail = True

        async def claim_turn(self, turn: object) -> object:
            if self.fail:
                raise StoreUnavailable("the disk is full")
            return await super().claim_turn(turn)  # type: ignore[arg-type]

    store = FailingClaims()
    narrator, _, turn_log, _, sid = await setup(ScriptedProvider("p"), store)
    with pytest.raises(StoreUnavailable):
        await turn(narrator, sid)
    assert turn_log.running == 0
    store.fail = False
    await turn(narrator, sid)
