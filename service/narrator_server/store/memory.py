"""In-memory store: the fake of `SessionStore` and `MemoryStorage` for core tests (nothing
survives)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..core.errors import SessionNotFound, StoreUnavailable
from ..core.models import TurnStatus
from .memory_campaign import CampaignMemoryMixin
from .memory_keys import MemoryKeyStore

if TYPE_CHECKING:
    from ..core.memory_models import TurnRecord
    from ..core.models import Session, Turn


class MemoryStore(CampaignMemoryMixin):
    def __init__(self) -> None:
        self.keys = MemoryKeyStore()
        self.sessions: dict[str, Session] = {}
        # By session, in the order they started (ties: the order they were first stored).
        self.turns: dict[str, list[Turn]] = {}
        self.closed = False
        self._init_memory()

    def _open(self) -> None:
        if self.closed:
            raise StoreUnavailable("the store is closed")

    def _insert(self, turns: list[Turn], turn: Turn) -> None:
        at = len(turns)
        while at and turns[at - 1].created_at > turn.created_at:
            at -= 1
        turns.insert(at, turn)

    async def create_session(self, session: Session) -> None:
        self._open()
        self.sessions[session.session_id] = session
        self.turns[session.session_id] = []

    async def get_session(self, session_id: str, recent_turn_limit: int) -> Session | None:
        self._open()
        session = self.sessions.get(session_id)
        if session is None:
            return None
        turns = self.turns[session_id]
        recent = tuple(turns[-recent_turn_limit:]) if recent_turn_limit else ()
        return dataclasses.replace(session, turn_count=len(turns), recent_turns=recent)

    async def get_turn(self, session_id: str, turn_id: str) -> Turn | None:
        self._open()
        return next((t for t in self.turns.get(session_id, ()) if t.turn_id == turn_id), None)

    async def delete_session(self, session_id: str) -> bool:
        self._open()
        self.turns.pop(session_id, None)
        self._forget(session_id)
        return self.sessions.pop(session_id, None) is not None

    async def recent_completed_turns(self, session_id: str, limit: int) -> list[Turn]:
        self._open()
        done = [
            t
            for t in self.turns.get(session_id, [])
            if t.status is TurnStatus.COMPLETED and not t.superseded
        ]
        return list(reversed(done))[:limit] if limit > 0 else []

    async def claim_turn(self, turn: Turn) -> Turn | None:
        self._open()
        if turn.session_id not in self.sessions:
            raise SessionNotFound(turn.session_id)
        existing = await self.get_turn(turn.session_id, turn.turn_id)
        if existing is not None:
            return existing
        self._insert(self.turns[turn.session_id], turn)
        return None

    async def save_turn(self, turn: Turn, record: TurnRecord | None = None) -> None:
        self._open()
        turns = self.turns.get(turn.session_id)
        if turns is None:
            return
        if record is not None:
            self._keep_context(turn.session_id, turn.turn_id, record.sections, record.keep)
        for i, old in enumerate(turns):
            if old.turn_id == turn.turn_id:
                if turn.status is TurnStatus.INTERRUPTED and old.status is not TurnStatus.RUNNING:
                    return  # an interrupted mark never replaces how a turn really ended
                turns[i] = turn
                return
        self._insert(turns, turn)

    async def running_turns(self, started_before: float) -> list[Turn]:
        self._open()
        return [
            t
            for turns in self.turns.values()
            for t in turns
            if t.status is TurnStatus.RUNNING and t.created_at < started_before
        ]

    async def supersede_turn(self, session_id: str, turn_id: str) -> None:
        self._open()
        turns = self.turns.get(session_id, [])
        for i, old in enumerate(turns):
            if old.turn_id == turn_id:
                turns[i] = dataclasses.replace(old, superseded=True)

    async def check_writable(self) -> None:
        self._open()

    async def close(self) -> None:
        self.closed = True
