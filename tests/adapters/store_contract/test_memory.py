"""The narrator's memory and the turns left running: recent completed turns, supersession,
running turns by start time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from narrator_server.core.models import TurnStatus

from .builders import session, turn

if TYPE_CHECKING:
    from narrator_server.core.storage import SessionStore


class TestRecentCompleted:
    async def test_only_completed_turns_newest_first_within_the_limit(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session())
        statuses = [
            TurnStatus.COMPLETED, TurnStatus.CANCELLED, TurnStatus.COMPLETED, TurnStatus.FAILED,
            TurnStatus.INTERRUPTED, TurnStatus.COMPLETED, TurnStatus.RUNNING, TurnStatus.COMPLETED,
        ]  # fmt: skip
        for i, status in enumerate(statuses):
            await store.save_turn(turn(f"t{i}", status=status, at=100.0 + i))
        got = await store.recent_completed_turns("s1", 3)
        assert [t.turn_id for t in got] == ["t7", "t5", "t2"]
        assert all(t.status is TurnStatus.COMPLETED for t in got)
        assert [t.turn_id for t in await store.recent_completed_turns("s1", 10)] == [
            "t7", "t5", "t2", "t0",
        ]  # fmt: skip
        assert await store.recent_completed_turns("s1", 0) == []

    async def test_only_this_sessions_turns(self, store: SessionStore) -> None:
        await store.create_session(session("s1"))
        await store.create_session(session("s2"))
        await store.save_turn(turn("a", "s1", at=1.0))
        await store.save_turn(turn("b", "s2", at=2.0))
        assert [t.turn_id for t in await store.recent_completed_turns("s1", 10)] == ["a"]
        assert await store.recent_completed_turns("nope", 10) == []


class TestSupersede:
    async def test_a_superseded_turn_is_kept_but_out_of_memory(self, store: SessionStore) -> None:
        await store.create_session(session())
        await store.save_turn(turn("old", at=1.0))
        await store.save_turn(turn("new", at=2.0, replaces_turn_id="old"))
        await store.supersede_turn("s1", "old")
        old = await store.get_turn("s1", "old")
        assert old is not None
        assert old.superseded
        assert old.text == "narration of old"
        assert [t.turn_id for t in await store.recent_completed_turns("s1", 10)] == ["new"]
        got = await store.get_session("s1", 10)
        assert got is not None
        assert [(t.turn_id, t.superseded) for t in got.recent_turns] == [
            ("old", True),
            ("new", False),
        ]

    async def test_only_this_sessions_turn_and_a_missing_one_is_no_error(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session("s1"))
        await store.create_session(session("s2"))
        await store.save_turn(turn("t1", "s1"))
        await store.save_turn(turn("t1", "s2"))
        await store.supersede_turn("s2", "t1")
        await store.supersede_turn("s2", "missing")
        await store.supersede_turn("nope", "t1")
        mine, theirs = await store.get_turn("s1", "t1"), await store.get_turn("s2", "t1")
        assert mine is not None
        assert theirs is not None
        assert (mine.superseded, theirs.superseded) == (False, True)


class TestRunning:
    async def test_running_turns_started_before_a_time_in_any_session(
        self, store: SessionStore
    ) -> None:
        await store.create_session(session("s1"))
        await store.create_session(session("s2"))
        await store.claim_turn(turn("old", "s1", TurnStatus.RUNNING, at=10.0))
        await store.claim_turn(turn("old", "s2", TurnStatus.RUNNING, at=11.0))
        await store.claim_turn(turn("edge", "s1", TurnStatus.RUNNING, at=20.0))
        await store.claim_turn(turn("young", "s2", TurnStatus.RUNNING, at=30.0))
        await store.save_turn(turn("ended", "s1", TurnStatus.COMPLETED, at=5.0))
        await store.claim_turn(turn("done", "s1", TurnStatus.RUNNING, at=6.0))
        await store.save_turn(turn("done", "s1", TurnStatus.INTERRUPTED, at=6.0))
        got = await store.running_turns(20.0)  # strictly before
        assert sorted((t.session_id, t.turn_id) for t in got) == [("s1", "old"), ("s2", "old")]
        assert all(t.status is TurnStatus.RUNNING for t in got)
        assert len(await store.running_turns(float("inf"))) == 4
        assert await store.running_turns(0.0) == []
