"""Turns: order, atomic claims, upserts scoped to their session, saves after a delete."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import SessionNotFound
from narrator_server.core.models import TurnStatus

from .builders import session, turn

if TYPE_CHECKING:
    from narrator_server.core.storage import SessionStore


async def ids(store: SessionStore, session_id: str = "s1") -> list[str]:
    got = await store.get_session(session_id, 100)
    assert got is not None
    return [t.turn_id for t in got.recent_turns]


class TestOrder:
    async def test_turns_are_in_the_order_they_started_not_stored(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())
        for turn_id, at in (("c", 30.0), ("a", 10.0), ("b", 20.0)):
            await store.save_turn(turn(turn_id, at=at))
        assert await ids(store) == ["a", "b", "c"]
        assert [t.turn_id for t in await store.recent_completed_turns("s1", 10)] == ["c", "b", "a"]

    async def test_turns_started_at_the_same_time_keep_their_claim_order(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())
        for turn_id in ("z", "m", "a", "q"):
            assert await store.claim_turn(turn(turn_id, status=TurnStatus.RUNNING, at=5.0)) is None
        await store.save_turn(turn("m", at=5.0))  # ending a turn does not move it
        assert await ids(store) == ["z", "m", "a", "q"]


class TestClaims:
    async def test_the_first_claim_wins_and_later_ones_get_the_stored_turn(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())
        first = turn("t1", status=TurnStatus.RUNNING, input="first")
        assert await store.claim_turn(first) is None
        again = dataclasses.replace(first, input="second", created_at=first.created_at + 1)
        assert await store.claim_turn(again) == first
        assert await store.get_turn("s1", "t1") == first

    async def test_a_claim_on_an_ended_turn_returns_it_unchanged(self, store: SessionStore) -> None:
        await store.create_session(session())
        await store.claim_turn(turn("t1", status=TurnStatus.RUNNING))
        await store.save_turn(turn("t1"))
        assert await store.claim_turn(turn("t1", status=TurnStatus.RUNNING)) == turn("t1")

    async def test_concurrent_claims_have_exactly_one_winner(self, store: SessionStore) -> None:
        await store.create_session(session())
        claims = [turn("t1", status=TurnStatus.RUNNING, input=f"claimer {i}") for i in range(24)]
        results = await asyncio.gather(*(store.claim_turn(c) for c in claims))
        winners = [c for c, r in zip(claims, results, strict=True) if r is None]
        assert len(winners) == 1
        assert all(r == winners[0] for r in results if r is not None)
        assert await store.get_turn("s1", "t1") == winners[0]
        assert await ids(store) == ["t1"]

    async def test_a_claim_on_a_missing_or_deleted_session_is_not_found(
        self, store: SessionStore
    ) -> None:
        with pytest.raises(SessionNotFound):
            await store.claim_turn(turn("t1", "nope", TurnStatus.RUNNING))
        await store.create_session(session())
        await store.delete_session("s1")
        with pytest.raises(SessionNotFound):
            await store.claim_turn(turn("t1", status=TurnStatus.RUNNING))
        assert await store.get_turn("s1", "t1") is None

    async def test_turn_ids_are_scoped_to_their_session(self, store: SessionStore) -> None:
        await store.create_session(session("s1"))
        await store.create_session(session("s2"))
        one = turn("t1", "s1", TurnStatus.RUNNING, input="one")
        two = turn("t1", "s2", TurnStatus.RUNNING, input="two")
        assert await store.claim_turn(one) is None
        assert await store.claim_turn(two) is None
        assert await store.get_turn("s1", "t1") == one
        assert await store.get_turn("s2", "t1") == two


class TestSaves:
    async def test_saving_a_claimed_turn_replaces_it_in_place(self, store: SessionStore) -> None:
        await store.create_session(session())
        await store.claim_turn(turn("t1", status=TurnStatus.RUNNING, at=1.0))
        await store.claim_turn(turn("t2", status=TurnStatus.RUNNING, at=2.0))
        ended = turn("t1", at=1.0, text="It ended.")
        await store.save_turn(ended)
        assert await store.get_turn("s1", "t1") == ended
        got = await store.get_session("s1", 10)
        assert got is not None
        assert got.turn_count == 2
        assert [t.turn_id for t in got.recent_turns] == ["t1", "t2"]

    async def test_saving_twice_keeps_one_turn_with_the_last_content(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())
        await store.save_turn(turn("t1", status=TurnStatus.CANCELLED))
        await store.save_turn(turn("t1", status=TurnStatus.FAILED))  # (INTERRUPTED: see
        assert await ids(store) == ["t1"]  # test_interrupted.py, it never replaces an end)
        got = await store.get_turn("s1", "t1")
        assert got is not None
        assert got.status is TurnStatus.FAILED

    async def test_a_save_never_touches_another_sessions_turn_with_the_same_id(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session("s1"))
        await store.create_session(session("s2"))
        theirs = turn("t1", "s2", TurnStatus.RUNNING, input="theirs")
        await store.claim_turn(theirs)
        await store.save_turn(turn("t1", "s1", text="mine"))
        assert await store.get_turn("s2", "t1") == theirs
        assert await ids(store, "s2") == ["t1"]
        assert await ids(store, "s1") == ["t1"]

    async def test_a_save_after_the_session_was_deleted_stores_nothing(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())
        await store.claim_turn(turn("t1", status=TurnStatus.RUNNING))
        await store.delete_session("s1")
        await store.save_turn(turn("t1"))  # the turn ended after its session was deleted
        await store.save_turn(turn("t2"))
        assert await store.get_turn("s1", "t1") is None
        assert await store.get_turn("s1", "t2") is None
        assert await store.get_session("s1", 10) is None
        await store.create_session(session())
        assert await ids(store) == []

    async def test_a_save_into_a_session_that_never_existed_stores_nothing(
        self, store: SessionStore
    ) -> None:
        await store.save_turn(turn("t1", "ghost"))
        assert await store.get_turn("ghost", "t1") is None
        assert await store.running_turns(float("inf")) == []
