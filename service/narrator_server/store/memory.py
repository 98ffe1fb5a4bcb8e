"""In-memory store: the fake of `SessionStore` and `MemoryStorage` for core tests (nothing
survives)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..core.errors import SessionNotFound
from ..core.models import TurnStatus
from .memory_campaign import CampaignMemoryMixin

if TYPE_CHECKING:
    from ..core.models import Session, Turn


class MemoryStore(CampaignMemoryMixin):
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.turns: dict[str, list[Turn]] = {}  # by session, in the order they started
        self._init_memory()

    async def create_session(self, session: Session) -> None:
        self.sessions[session.session_id] = session
        self.turns[session.session_id] = []

    async def get_session(self, session_id: str, recent_turn_limit: int) -> Session | None:
        session = self.sessions.get(session_id)
        if session is None:
            return None
        turns = self.turns[session_id]
        recent = tuple(turns[-recent_turn_limit:]) if recent_turn_limit else ()
        return dataclasses.replace(session, turn_count=len(turns), recent_turns=recent)

    async def get_turn(self, session_id: str, turn_id: str) -> Turn | None:
        return next((t for t in self.turns.get(session_id, ()) if t.turn_id == turn_id), None)

    async def delete_session(self, session_id: str) -> bool:
        self.turns.pop(session_id, None)
        self._forget(session_id)
        return self.sessions.pop(session_id, None) is not None

    async def recent_completed_turns(self, session_id: str, limit: int) -> list[Turn]:
        done = [
            t
            for t in self.turns.get(session_id, [])
            if t.status is TurnStatus.COMPLETED and not t.superseded
        ]
        return list(reversed(done))[:limit]

    async def claim_turn(self, turn: Turn) -> Turn | None:
        if turn.session_id not in self.sessions:
            raise SessionNotFound(turn.session_id)
        existing = await self.get_turn(turn.session_id, turn.turn_id)
        if existing is not None:
            return existing
        self.turns[turn.session_id].append(turn)
        return None

    async def save_turn(self, turn: Turn) -> None:
        turns = self.turns.get(turn.session_id)
        if turns is None:
            return
        for i, old in enumerate(turns):
            if old.turn_id == turn.turn_id:
                turns[i] = turn
                return
        turns.append(turn)

    async def running_turns(self, started_before: float) -> list[Turn]:
        return [
            t
            for turns in self.turns.values()
            for t in turns
            if t.status is TurnStatus.RUNNING and t.created_at < started_before
        ]

    async def supersede_turn(self, session_id: str, turn_id: str) -> None:
        turns = self.turns.get(session_id, [])
        for i, old in enumerate(turns):
            if old.turn_id == turn_id:
                turns[i] = dataclasses.replace(old, superseded=True)

    async def check_writable(self) -> None:
        pass

    async def close(self) -> None:
        pass
