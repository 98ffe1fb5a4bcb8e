"""In-memory session store: the fake of `SessionStore` for core tests (nothing survives)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..core.models import TurnStatus

if TYPE_CHECKING:
    from ..core.models import Session, Turn


class MemoryStore:
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.turns: dict[str, list[Turn]] = {}

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

    async def get_turn(self, turn_id: str) -> Turn | None:
        for turns in self.turns.values():
            for turn in turns:
                if turn.turn_id == turn_id:
                    return turn
        return None

    async def delete_session(self, session_id: str) -> bool:
        self.turns.pop(session_id, None)
        return self.sessions.pop(session_id, None) is not None

    async def recent_completed_turns(self, session_id: str, limit: int) -> list[Turn]:
        done = [t for t in self.turns.get(session_id, []) if t.status is TurnStatus.COMPLETED]
        return list(reversed(done))[:limit]

    async def save_turn(self, turn: Turn) -> None:
        if turn.session_id in self.turns:
            self.turns[turn.session_id].append(turn)

    async def close(self) -> None:
        pass
