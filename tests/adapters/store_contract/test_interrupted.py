"""Interrupted marks: a sweep or a resume that finds a RUNNING turn with no producer marks it
INTERRUPTED, atomically, and never over how the turn really ended (it may have ended between
the read and the write)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.models import TurnStatus

from .builders import session, turn

if TYPE_CHECKING:
    from narrator_server.core.storage import SessionStore

ENDED = [TurnStatus.COMPLETED, TurnStatus.CANCELLED, TurnStatus.FAILED]


async def status(store: SessionStore, turn_id: str = "t1") -> TurnStatus:
    stored = await store.get_turn("s1", turn_id)
    assert stored is not None
    return stored.status


class TestInterruptedMarks:
    async def test_a_running_turn_can_be_marked_interrupted(self, store: SessionStore) -> None:
        await store.create_session(session())
        claim = turn("t1", status=TurnStatus.RUNNING, text="")
        await store.claim_turn(claim)
        await store.save_turn(dataclasses.replace(claim, status=TurnStatus.INTERRUPTED))
        assert await status(store) is TurnStatus.INTERRUPTED

    @pytest.mark.parametrize("ended", ENDED)
    async def test_a_stale_interrupted_mark_never_replaces_how_a_turn_ended(
        self, store: SessionStore, ended: TurnStatus
    ) -> None:
        await store.create_session(session())
        claim = turn("t1", status=TurnStatus.RUNNING, text="")
        await store.claim_turn(claim)
        await store.save_turn(turn("t1", status=ended, text="It ended."))
        await store.save_turn(dataclasses.replace(claim, status=TurnStatus.INTERRUPTED))
        stored = await store.get_turn("s1", "t1")
        assert stored is not None
        assert (stored.status, stored.text) == (ended, "It ended.")

    async def test_the_real_end_still_replaces_an_interrupted_mark(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())
        claim = turn("t1", status=TurnStatus.RUNNING, text="")
        await store.claim_turn(claim)
        await store.save_turn(dataclasses.replace(claim, status=TurnStatus.INTERRUPTED))
        await store.save_turn(turn("t1", text="It ended after all."))
        assert await status(store) is TurnStatus.COMPLETED
