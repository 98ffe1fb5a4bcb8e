"""`MemoryStorage` for the in-memory store (the fake for core tests): a mixin of `MemoryStore`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..core.memory_models import Recollection, SavedSession
from ..core.memory_storage import LoreFull
from ..core.models import TurnStatus

if TYPE_CHECKING:
    from ..core.memory_models import LoreEntry, Section, Summary
    from ..core.models import Session, Turn


def _lore_order(entry: LoreEntry) -> tuple[int, float, str]:
    return (-entry.priority, -entry.updated_at, entry.entry_id)


class CampaignMemoryMixin:
    """Needs `sessions` and `turns` of `MemoryStore`; keeps lore, summaries and contexts."""

    sessions: dict[str, Session]
    turns: dict[str, list[Turn]]

    def _init_memory(self) -> None:
        self.lore: dict[str, dict[str, LoreEntry]] = {}
        self.lore_revisions: dict[str, int] = {}
        self.summaries: dict[str, list[Summary]] = {}
        self.contexts: dict[str, dict[str, tuple[Section, ...]]] = {}

    def _forget(self, session_id: str) -> None:
        for table in (self.lore, self.lore_revisions, self.summaries, self.contexts):
            table.pop(session_id, None)

    def _current(self, session_id: str) -> list[Turn]:
        return [
            t
            for t in self.turns.get(session_id, [])
            if t.status is TurnStatus.COMPLETED and not t.superseded
        ]

    async def recall(
        self, session_id: str, turn_limit: int, lore_revision: int
    ) -> Recollection | None:
        if session_id not in self.sessions:
            return None
        count = len(self.turns.get(session_id, ()))
        session = dataclasses.replace(self.sessions[session_id], turn_count=count, recent_turns=())
        turns = tuple(reversed(self._current(session_id)))[:turn_limit]
        summaries = self.summaries.get(session_id)
        revision = self.lore_revisions.get(session_id, 0)
        lore = None if revision == lore_revision else tuple(self._sorted_lore(session_id))
        summary = summaries[-1] if summaries else None
        return Recollection(turns, summary, revision, lore, session)

    def _sorted_lore(self, session_id: str) -> list[LoreEntry]:
        return sorted(self.lore.get(session_id, {}).values(), key=_lore_order)

    async def put_lore(
        self, session_id: str, entry: LoreEntry, *, new: bool, max_entries: int
    ) -> LoreEntry | None:
        if session_id not in self.sessions:
            return None
        entries = self.lore.setdefault(session_id, {})
        if new and len(entries) >= max_entries:
            raise LoreFull(session_id)
        if not new and entry.entry_id not in entries:
            return None
        entries[entry.entry_id] = entry
        self.lore_revisions[session_id] = self.lore_revisions.get(session_id, 0) + 1
        return entry

    async def list_lore(self, session_id: str) -> list[LoreEntry] | None:
        if session_id not in self.sessions:
            return None
        return self._sorted_lore(session_id)

    async def delete_lore(self, session_id: str, entry_id: str) -> bool:
        if self.lore.get(session_id, {}).pop(entry_id, None) is None:
            return False
        self.lore_revisions[session_id] = self.lore_revisions.get(session_id, 0) + 1
        return True

    async def turns_between(
        self, session_id: str, after: float, before: float, limit: int
    ) -> list[Turn]:
        return [t for t in self._current(session_id) if after < t.created_at < before][:limit]

    async def save_summary(self, session_id: str, summary: Summary, keep: int) -> None:
        if session_id in self.sessions:
            kept = [*self.summaries.get(session_id, []), summary]
            kept.sort(key=lambda s: s.through)
            self.summaries[session_id] = kept[-keep:]

    async def save_context(
        self, session_id: str, turn_id: str, sections: tuple[Section, ...], keep: int
    ) -> None:
        if session_id in self.sessions:
            self._keep_context(session_id, turn_id, sections, keep)

    def _keep_context(
        self, session_id: str, turn_id: str, sections: tuple[Section, ...], keep: int
    ) -> None:
        recorded = self.contexts.setdefault(session_id, {})
        recorded.setdefault(turn_id, sections)
        while len(recorded) > keep:
            del recorded[next(iter(recorded))]

    async def turn_context(self, session_id: str, turn_id: str) -> tuple[Section, ...] | None:
        return self.contexts.get(session_id, {}).get(turn_id)

    async def export_session(self, session_id: str) -> SavedSession | None:
        session = self.sessions.get(session_id)
        if session is None:
            return None
        turns = tuple(self.turns[session_id])
        session = dataclasses.replace(session, turn_count=len(turns))
        summaries = tuple(self.summaries.get(session_id, ()))
        return SavedSession(session, turns, tuple(self._sorted_lore(session_id)), summaries)

    async def import_session(self, saved: SavedSession) -> None:
        sid = saved.session.session_id
        self.sessions[sid] = dataclasses.replace(saved.session, turn_count=0, recent_turns=())
        self.turns[sid] = list(saved.turns)
        self.lore[sid] = {e.entry_id: e for e in saved.lore}
        self.lore_revisions[sid] = 1 if saved.lore else 0
        self.summaries[sid] = list(saved.summaries)
