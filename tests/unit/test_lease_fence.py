"""A producer that lost its turn's lease by the time the turn ended (another server took it
over while this one stalled) does not store it: the taker does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import TurnAborted
from narrator_server.core.models import (
    LOCAL,
    PlayerCharacter,
    Scene,
    Setting,
    TextDelta,
    TurnStatus,
)
from narrator_server.core.narrator import Narrator, NarratorConfig
from narrator_server.core.turnlog import ProducerLost
from narrator_server.turnlog.local import LocalTurnLog, LocalWriter

from .fakes import Script, ScriptedProvider
from .test_engine_shutdown import SlowStore

if TYPE_CHECKING:
    from narrator_server.core.models import TurnEvent
    from narrator_server.core.turnlog import TurnInfo


class TakenOverWriter(LocalWriter):
    """Its lease is found taken when the ended turn is about to be stored."""

    async def held(self) -> bool:
        self.lost = True
        self.buffer.end(ProducerLost(tuple(self.buffer.events)))
        return False


class TakenOverLog(LocalTurnLog):
    async def start(self, info: TurnInfo, max_running: int) -> LocalWriter:
        writer = await super().start(info, max_running)
        return TakenOverWriter(self, writer.buffer)


async def test_a_turn_whose_lease_was_taken_is_not_stored_by_its_old_producer() -> None:
    store = SlowStore()
    provider = ScriptedProvider("p", Script(["The door ", "opens."]))
    narrator = Narrator(provider, store, TakenOverLog(), NarratorConfig())
    session = await narrator.create_session(LOCAL, Setting("a crypt"), PlayerCharacter("Ash"), 1)
    sid = session.session_id
    events: list[TurnEvent] = []
    # Here no other server continues it, so its caller is told; with Redis it follows the taker.
    with pytest.raises(TurnAborted, match="could not be followed"):
        async for event in narrator.narrate(LOCAL, sid, "I open it", Scene(), turn_id="t1"):
            events.append(event)
    assert events[-1] == TextDelta(2, "opens.")
    assert await narrator.drain() is True
    assert store.saves == []  # the row stays the taker's to write
    (turn,) = store.turns[sid]
    assert turn.status is TurnStatus.RUNNING


async def test_a_producer_that_keeps_its_lease_stores_its_turn() -> None:
    store = SlowStore()
    provider = ScriptedProvider("p", Script(["The door ", "opens."]))
    narrator = Narrator(provider, store, LocalTurnLog(), NarratorConfig())
    session = await narrator.create_session(LOCAL, Setting("a crypt"), PlayerCharacter("Ash"), 1)
    events = [e async for e in narrator.narrate(LOCAL, session.session_id, "I open it", Scene())]
    assert events
    assert [t.status for t in store.saves] == [TurnStatus.COMPLETED]
    assert store.saves[0].text == "The door opens."
