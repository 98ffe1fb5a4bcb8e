"""`MemoryStorage` on the SQLite store: lore, summaries, recorded contexts, save games.

A mixin of `SqliteStore` (same connection, same worker thread, same error translation).
Every multi-statement call runs in one transaction, so a read is a consistent snapshot.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..core.memory_models import Recollection, SavedSession
from ..core.memory_storage import LoreFull
from .codec import (
    RECALLED_TURN_COLUMNS,
    SESSION_COLUMNS,
    TURN_COLUMNS,
    session_from_row,
    session_row,
    turn_row,
)
from .memory_codec import (
    LORE_COLUMNS,
    SUMMARY_COLUMNS,
    context_sections,
    lore_from_row,
    lore_row,
    read_context,
    sections_blob,
    summary_from_row,
    summary_row,
)
from .sqlite_recent import CURRENT as _CURRENT
from .sqlite_recent import RecentTurns

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager

    from ..core.memory_models import LoreEntry, Section, Summary
    from ..core.models import Turn
    from .memory_codec import Pruning

_LORE_ORDER = "ORDER BY priority DESC, updated_at DESC, id"
_SESSION = (
    f"SELECT {SESSION_COLUMNS}, window_version, lore_revision, turn_total FROM sessions"
    " WHERE id = ?"
)


class SqliteMemoryMixin:
    """Needs `db`, `_call`, `_turns` and `_transaction` of `SqliteStore`."""

    if TYPE_CHECKING:

        @property
        def db(self) -> sqlite3.Connection: ...

    _call: Callable[..., Any]
    _recent: RecentTurns
    _pruning: Pruning
    _decoded_turn: Callable[[tuple[Any, ...]], Turn]
    _decoded: Callable[..., Any]
    _turns: Callable[[str, tuple[Any, ...], int], list[Turn]]
    _transaction: Callable[..., AbstractContextManager[sqlite3.Connection]]

    async def recall(
        self, session_id: str, turn_limit: int, lore_revision: int
    ) -> Recollection | None:
        result: Recollection | None = await self._call(
            self._recall, session_id, turn_limit, lore_revision
        )
        return result

    def _recall(self, session_id: str, limit: int, known: int) -> Recollection | None:
        with self._transaction("BEGIN") as db:
            found = db.execute(_SESSION, (session_id,)).fetchone()
            if found is None:
                return None
            window, revision = found[-3:-1]
            turns = self._recent.read(db, session_id, limit, window, self._decoded_turn)
            summary = self._latest_summary(session_id)
            lore = None if revision == known else tuple(self._lore(session_id))
        session = self._decoded(session_from_row, found[:-3], found[-1], ())
        return Recollection(tuple(turns), summary, revision, lore, session)

    def _latest_summary(self, session_id: str) -> Summary | None:
        row = self.db.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM summaries WHERE session_id = ?"
            " ORDER BY through DESC, rowid DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        return summary_from_row(row) if row else None

    def _lore(self, session_id: str) -> Iterator[LoreEntry]:
        rows = self.db.execute(
            f"SELECT {LORE_COLUMNS} FROM lore WHERE session_id = ? {_LORE_ORDER}", (session_id,)
        )
        return (lore_from_row(r) for r in rows.fetchall())

    async def put_lore(
        self, session_id: str, entry: LoreEntry, *, new: bool, max_entries: int
    ) -> LoreEntry | None:
        result: LoreEntry | None = await self._call(
            self._put_lore, session_id, entry, new, max_entries
        )
        return result

    def _put_lore(
        self, session_id: str, entry: LoreEntry, new: bool, max_entries: int
    ) -> LoreEntry | None:
        with self._transaction("BEGIN IMMEDIATE") as db:
            if db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                return None
            if new:
                count = db.execute("SELECT COUNT(*) FROM lore WHERE session_id = ?", (session_id,))
                if count.fetchone()[0] >= max_entries:
                    raise LoreFull(session_id)
                db.execute(
                    f"INSERT INTO lore (session_id, {LORE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (session_id, *lore_row(entry)),
                )
            else:
                _, keys, content, priority, always_on, updated_at = lore_row(entry)
                changed = db.execute(
                    "UPDATE lore SET keys = ?, content = ?, priority = ?, always_on = ?,"
                    " updated_at = ? WHERE session_id = ? AND id = ?",
                    (keys, content, priority, always_on, updated_at, session_id, entry.entry_id),
                ).rowcount
                if not changed:
                    return None
            self._bump(session_id)
        return entry

    def _bump(self, session_id: str) -> None:
        self.db.execute(
            "UPDATE sessions SET lore_revision = lore_revision + 1 WHERE id = ?", (session_id,)
        )

    async def list_lore(self, session_id: str) -> list[LoreEntry] | None:
        result: list[LoreEntry] | None = await self._call(self._list_lore, session_id)
        return result

    def _list_lore(self, session_id: str) -> list[LoreEntry] | None:
        with self._transaction("BEGIN") as db:
            if db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                return None
            return list(self._lore(session_id))

    async def delete_lore(self, session_id: str, entry_id: str) -> bool:
        result: bool = await self._call(self._delete_lore, session_id, entry_id)
        return result

    def _delete_lore(self, session_id: str, entry_id: str) -> bool:
        with self._transaction("BEGIN IMMEDIATE") as db:
            gone = db.execute(
                "DELETE FROM lore WHERE session_id = ? AND id = ?", (session_id, entry_id)
            ).rowcount
            if gone:
                self._bump(session_id)
        return bool(gone)

    async def turns_between(
        self, session_id: str, after: float, before: float, limit: int
    ) -> list[Turn]:
        turns: list[Turn] = await self._call(self._turns_between, session_id, after, before, limit)
        return turns

    def _turns_between(
        self, session_id: str, after: float, before: float, limit: int
    ) -> list[Turn]:
        rows = self.db.execute(
            f"SELECT {RECALLED_TURN_COLUMNS} FROM turns WHERE session_id = ? AND {_CURRENT}"
            " AND created_at > ? AND created_at < ? ORDER BY created_at, rowid LIMIT ?",
            (session_id, after, before, limit),
        ).fetchall()
        return [self._decoded_turn(r) for r in rows]

    async def save_summary(self, session_id: str, summary: Summary, keep: int) -> None:
        await self._call(self._save_summary, session_id, summary, keep)

    def _save_summary(self, session_id: str, summary: Summary, keep: int) -> None:
        with self._transaction("BEGIN IMMEDIATE", durable=False) as db:  # see the port
            marks = ", ".join("?" * (SUMMARY_COLUMNS.count(",") + 1))
            db.execute(
                f"INSERT INTO summaries (session_id, {SUMMARY_COLUMNS})"
                f" SELECT ?, {marks} WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)",
                (session_id, *summary_row(summary), session_id),
            )
            db.execute(
                "DELETE FROM summaries WHERE session_id = ? AND rowid NOT IN (SELECT rowid FROM"
                " summaries WHERE session_id = ? ORDER BY through DESC, rowid DESC LIMIT ?)",
                (session_id, session_id, keep),
            )

    async def save_context(
        self, session_id: str, turn_id: str, sections: tuple[Section, ...], keep: int
    ) -> None:
        blob = sections_blob(sections)
        await self._call(self._save_context, session_id, turn_id, blob, keep)

    def _save_context(self, session_id: str, turn_id: str, blob: bytes, keep: int) -> None:
        with self._transaction("BEGIN IMMEDIATE", durable=False):
            self._write_context(session_id, turn_id, blob, keep)

    def _write_context(self, session_id: str, turn_id: str, blob: bytes, keep: int) -> None:
        """Inside a write transaction: the turn's recorded prompt (the first one stays), and
        only the session's newest `keep` of them (`Pruning` says when)."""
        db = self.db
        db.execute(
            "INSERT INTO turn_contexts (session_id, turn_id, sections, created_at)"
            " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)"
            " ON CONFLICT (session_id, turn_id) DO NOTHING",
            (session_id, turn_id, blob, time.time(), session_id),
        )
        if not self._pruning.due(session_id, keep):
            return
        # Older than the `keep`-th newest: one walk down the index, no sort of them all.
        db.execute(
            "DELETE FROM turn_contexts WHERE session_id = ? AND created_at <= (SELECT"
            " created_at FROM turn_contexts WHERE session_id = ? ORDER BY created_at DESC"
            " LIMIT 1 OFFSET ?)",
            (session_id, session_id, keep),
        )

    async def turn_context(self, session_id: str, turn_id: str) -> tuple[Section, ...] | None:
        result: tuple[Section, ...] | None = await self._call(
            self._turn_context, session_id, turn_id
        )
        return result

    def _turn_context(self, session_id: str, turn_id: str) -> tuple[Section, ...] | None:
        with self._transaction("BEGIN") as db:
            row = db.execute(
                "SELECT sections FROM turn_contexts WHERE session_id = ? AND turn_id = ?",
                (session_id, turn_id),
            ).fetchone()
            if row is None:
                return None
            context = self._decoded(read_context, row[0])
            ids = sorted(set(context.turn_ids))
            turns: dict[str, Turn] = {}
            for at in range(0, len(ids), 500):  # SQLite binds at most 999 values
                part = ids[at : at + 500]
                where = f"session_id = ? AND id IN ({', '.join('?' * len(part))})"
                turns |= {t.turn_id: t for t in self._turns(where, (session_id, *part), len(part))}
        return context_sections(context, turns)

    async def export_session(self, session_id: str) -> SavedSession | None:
        result: SavedSession | None = await self._call(self._export, session_id)
        return result

    def _export(self, session_id: str) -> SavedSession | None:
        with self._transaction("BEGIN") as db:
            row = db.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                return None
            turns = tuple(reversed(self._turns("session_id = ?", (session_id,), 1_000_000)))
            lore = tuple(self._lore(session_id))
            summaries = tuple(
                summary_from_row(r)
                for r in db.execute(
                    f"SELECT {SUMMARY_COLUMNS} FROM summaries WHERE session_id = ?"
                    " ORDER BY through, rowid",
                    (session_id,),
                ).fetchall()
            )
        session = session_from_row(row, len(turns), ())
        return SavedSession(session, turns, lore, summaries)

    async def import_session(self, saved: SavedSession) -> None:
        await self._call(self._import, saved)

    def _import(self, saved: SavedSession) -> None:
        s = saved.session
        with self._transaction("BEGIN IMMEDIATE") as db:
            row = session_row(s)
            marks = ", ".join("?" * len(row))
            db.execute(f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({marks})", row)
            turn_marks = ", ".join("?" * (TURN_COLUMNS.count(",") + 1))
            db.executemany(
                f"INSERT INTO turns ({TURN_COLUMNS}) VALUES ({turn_marks})",
                [turn_row(t) for t in saved.turns],
            )
            db.executemany(
                f"INSERT INTO lore (session_id, {LORE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(s.session_id, *lore_row(e)) for e in saved.lore],
            )
            summary_marks = ", ".join("?" * (SUMMARY_COLUMNS.count(",") + 2))
            db.executemany(
                f"INSERT INTO summaries (session_id, {SUMMARY_COLUMNS}) VALUES ({summary_marks})",
                [(s.session_id, *summary_row(x)) for x in saved.summaries],
            )
            if saved.lore:
                self._bump(s.session_id)
