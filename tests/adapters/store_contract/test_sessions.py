"""Sessions: create, get (turn count, recent turns oldest first), delete and its cascade."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from narrator_server.core.models import ContentRating, TurnStatus

from .builders import session, turn, unset_fields

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from narrator_server.core.storage import SessionStore


class TestSessions:
    async def test_a_new_session_reads_back_field_for_field(self, store: SessionStore) -> None:
        made = session()
        assert unset_fields(made) == ["turn_count", "recent_turns"]
        await store.create_session(made)
        assert await store.get_session("s1", 10) == made

    async def test_an_unknown_session_is_none(self, store: SessionStore) -> None:
        await store.create_session(session())
        assert await store.get_session("s2", 10) is None
        assert await store.get_session("", 10) is None

    async def test_turn_count_and_recent_turns_oldest_first_within_the_limit(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())
        for i in range(5):
            await store.save_turn(turn(f"t{i}", at=100.0 + i))
        got = await store.get_session("s1", 3)
        assert got is not None
        assert got.turn_count == 5
        assert [t.turn_id for t in got.recent_turns] == ["t2", "t3", "t4"]
        assert got.recent_turns[-1] == turn("t4", at=104.0)

    async def test_a_zero_limit_lists_no_turns_but_counts_them(self, store: SessionStore) -> None:
        await store.create_session(session())
        await store.save_turn(turn("t1"))
        got = await store.get_session("s1", 0)
        assert got is not None
        assert (got.turn_count, got.recent_turns) == (1, ())

    async def test_the_count_takes_each_turn_once_however_it_was_written(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())

        async def count() -> int:
            got = await store.get_session("s1", 0)
            assert got is not None
            return got.turn_count

        claim = turn("t1", status=TurnStatus.RUNNING)
        assert await store.claim_turn(claim) is None
        assert await count() == 1
        assert await store.claim_turn(claim) is not None  # claimed already: no new turn
        await store.save_turn(turn("t1"))  # how the claimed turn ended
        await store.save_turn(turn("t1"))  # stored again (a retry)
        assert await count() == 1
        await store.save_turn(turn("t2", at=101.0))  # stored without a claim
        assert await count() == 2
        await store.save_turn(turn("t3", "gone"))  # no such session: nothing counted
        assert await count() == 2

    async def test_every_status_counts_as_a_turn(self, store: SessionStore) -> None:
        await store.create_session(session())
        for i, status in enumerate(TurnStatus):
            await store.save_turn(turn(f"t{i}", status=status, at=100.0 + i))
        got = await store.get_session("s1", 10)
        assert got is not None
        assert got.turn_count == len(TurnStatus)
        assert [t.status for t in got.recent_turns] == list(TurnStatus)

    async def test_delete_cascades_to_the_turns_and_only_them(self, store: SessionStore) -> None:
        await store.create_session(session("s1"))
        await store.create_session(session("s2"))
        for sid in ("s1", "s2"):
            await store.save_turn(turn("t1", sid))
            await store.claim_turn(turn("t2", sid, TurnStatus.RUNNING))
        assert await store.delete_session("s1") is True
        assert await store.get_session("s1", 10) is None
        assert await store.get_turn("s1", "t1") is None
        assert await store.get_turn("s1", "t2") is None
        assert await store.recent_completed_turns("s1", 10) == []
        assert [t.session_id for t in await store.running_turns(float("inf"))] == ["s2"]
        other = await store.get_session("s2", 10)
        assert other is not None
        assert other.turn_count == 2

    async def test_delete_of_a_missing_session_is_false(self, store: SessionStore) -> None:
        assert await store.delete_session("s1") is False
        await store.create_session(session())
        assert await store.delete_session("s1") is True
        assert await store.delete_session("s1") is False

    async def test_a_deleted_session_id_can_be_made_again_empty(self, store: SessionStore) -> None:
        await store.create_session(session())
        await store.save_turn(turn("t1"))
        await store.delete_session("s1")
        await store.create_session(session(seed=5))
        got = await store.get_session("s1", 10)
        assert got is not None
        assert (got.seed, got.turn_count) == (5, 0)

    async def test_tenant_and_rating_are_kept_per_session(self, store: SessionStore) -> None:
        await store.create_session(session("s1", tenant="", content_rating=ContentRating.EVERYONE))
        await store.create_session(session("s2", tenant="studio-b"))
        one, two = await store.get_session("s1", 0), await store.get_session("s2", 0)
        assert one is not None
        assert two is not None
        assert (one.tenant, one.content_rating) == ("", ContentRating.EVERYONE)
        assert (two.tenant, two.content_rating) == ("studio-b", ContentRating.MATURE)


class TestDurability:
    """What one server stored, another (or the same, restarted) reads back."""

    async def test_sessions_and_turns_survive_a_reopen(
        self, reopen: Callable[[], Awaitable[SessionStore]]
    ) -> None:
        first = await reopen()
        await first.create_session(session())
        await first.save_turn(turn("t1", at=1.0))
        await first.claim_turn(turn("t2", status=TurnStatus.RUNNING, at=2.0))
        await first.close()
        second = await reopen()
        try:
            got = await second.get_session("s1", 10)
            assert got is not None
            assert got == dataclasses.replace(
                session(),
                turn_count=2,
                recent_turns=(turn("t1", at=1.0), turn("t2", status=TurnStatus.RUNNING, at=2.0)),
            )
        finally:
            await second.close()
