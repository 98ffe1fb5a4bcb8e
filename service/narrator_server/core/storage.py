"""The session store port: durable sessions and turns, shared by every server of a deployment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .memory_models import TurnRecord
    from .models import Session, Turn


class SessionStore(Protocol):
    """Durable sessions and turns. Implementations never block the event loop, and raise
    `StoreUnavailable` (never a driver error) when the storage cannot serve a call.

    Turn ids are scoped to their session: `(session_id, turn_id)` names a turn, and no call
    on one session ever reads or replaces another session's turn.
    """

    async def create_session(self, session: Session) -> None:
        """Store a new session (with no turns)."""

    async def get_session(self, session_id: str, recent_turn_limit: int) -> Session | None:
        """The session with its turn count and up to `recent_turn_limit` newest turns
        (oldest first)."""

    async def delete_session(self, session_id: str) -> bool:
        """Delete the session and everything of it; False when there was none."""

    async def get_turn(self, session_id: str, turn_id: str) -> Turn | None:
        """One turn of this session, whatever its status."""

    async def recent_completed_turns(self, session_id: str, limit: int) -> list[Turn]:
        """Up to `limit` completed, not superseded turns, newest first: the narrator's memory."""

    async def claim_turn(self, turn: Turn) -> Turn | None:
        """Atomically records a new turn as RUNNING when it starts. Returns None when this
        call claimed it, or the turn already stored under the same (session, turn id).
        Raises `SessionNotFound` when the session does not exist (any more)."""

    async def save_turn(self, turn: Turn, record: TurnRecord | None = None) -> None:
        """Stores how a claimed turn ended (completed, cancelled, failed, interrupted).
        Nothing is stored when its session was deleted meanwhile. INTERRUPTED only replaces
        a RUNNING row (atomically): it never overwrites how the turn really ended. With a
        `record`, the prompt the turn's request held is recorded in the same write, as
        `MemoryStorage.save_context` would (the first record of a turn wins)."""

    async def running_turns(self, started_before: float) -> list[Turn]:
        """Turns still RUNNING that started before this time (wall clock), any session."""

    async def supersede_turn(self, session_id: str, turn_id: str) -> None:
        """Marks an ended turn as replaced by a regeneration: kept, but out of memory."""

    async def check_writable(self) -> None:
        """A small write that proves the store can commit now; raises StoreUnavailable."""

    async def close(self) -> None:
        """Flush and release the store."""
