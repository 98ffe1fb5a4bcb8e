"""`MemoryStorage` on PostgreSQL: lore, summaries, recorded contexts, save games.

A mixin of `PostgresStore` (same pool, same time bound, same error translation). A read of
several tables runs in one REPEATABLE READ transaction (one snapshot); writes that must not
race (the lore count, an import) run in one transaction that locks the session's row.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from psycopg import errors as pg_errors

from ..core.memory_models import Recollection, SavedSession
from ..core.memory_storage import LoreFull
from ..core.models import TurnStatus
from .codec import (
    RECALLED_TURN_COLUMNS,
    SESSION_COLUMNS,
    TURN_COLUMN_COUNT,
    TURN_COLUMNS,
    session_from_row,
    session_row,
    turn_from_row,
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

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from psycopg import AsyncConnection

    from ..core.memory_models import LoreEntry, Section, Summary
    from ..core.models import Turn
    from .memory_codec import Pruning

_CURRENT = f"status = '{TurnStatus.COMPLETED.value}' AND NOT superseded"
_LORE_ORDER = "ORDER BY priority DESC, updated_at DESC, id"
_LORE_MARKS = ", ".join(["%s"] * (LORE_COLUMNS.count(",") + 2))
_SUMMARY_MARKS = ", ".join(["%s"] * (SUMMARY_COLUMNS.count(",") + 2))
_TURN_MARKS = ", ".join(["%s"] * TURN_COLUMN_COUNT)


def _lore_args(session_id: str, entry: LoreEntry) -> tuple[Any, ...]:
    row = lore_row(entry)
    return (session_id, *row[:4], bool(row[4]), row[5])


class PostgresMemoryMixin:
    """Needs `_conn`, `_turns` and `_pruning` of `PostgresStore`."""

    _pruning: Pruning

    if TYPE_CHECKING:

        def _conn(self) -> AbstractAsyncContextManager[AsyncConnection[Any]]: ...

        async def _turns(
            self,
            conn: AsyncConnection[Any],
            where: str,
            args: tuple[Any, ...],
            limit: int,
            columns: str = ...,
        ) -> list[Turn]: ...

    async def recall(
        self, session_id: str, turn_limit: int, lore_revision: int
    ) -> Recollection | None:
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor = await conn.execute(
                f"SELECT {SESSION_COLUMNS}, lore_revision, turn_total FROM sessions WHERE id = %s",
                (session_id,),
            )
            found = await cursor.fetchone()
            if found is None:
                return None
            revision = int(found[-2])
            turns = await self._turns(
                conn,
                f"session_id = %s AND {_CURRENT}",
                (session_id,),
                turn_limit,
                RECALLED_TURN_COLUMNS,
            )
            summary = await self._latest_summary(conn, session_id)
            lore = None if revision == lore_revision else tuple(await self._lore(conn, session_id))
        session = session_from_row(found[:-2], int(found[-1]), ())
        return Recollection(tuple(turns), summary, revision, lore, session)

    @staticmethod
    async def _latest_summary(conn: AsyncConnection[Any], session_id: str) -> Summary | None:
        cursor = await conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM summaries WHERE session_id = %s"
            " ORDER BY through DESC, stored_order DESC LIMIT 1",
            (session_id,),
        )
        row = await cursor.fetchone()
        return summary_from_row(row) if row else None

    @staticmethod
    async def _lore(conn: AsyncConnection[Any], session_id: str) -> list[LoreEntry]:
        cursor = await conn.execute(
            f"SELECT {LORE_COLUMNS} FROM lore WHERE session_id = %s {_LORE_ORDER}", (session_id,)
        )
        return [lore_from_row(r) for r in await cursor.fetchall()]

    async def put_lore(
        self, session_id: str, entry: LoreEntry, *, new: bool, max_entries: int
    ) -> LoreEntry | None:
        async with self._conn() as conn, conn.transaction():
            # Locking the session's row serializes writers of its lore (the count holds).
            cursor = await conn.execute(
                "SELECT 1 FROM sessions WHERE id = %s FOR UPDATE", (session_id,)
            )
            if await cursor.fetchone() is None:
                return None
            if new:
                cursor = await conn.execute(
                    "SELECT count(*) FROM lore WHERE session_id = %s", (session_id,)
                )
                counted = await cursor.fetchone()
                if counted is not None and int(counted[0]) >= max_entries:
                    raise LoreFull(session_id)
                await conn.execute(
                    f"INSERT INTO lore (session_id, {LORE_COLUMNS}) VALUES ({_LORE_MARKS})",
                    strip_nul(_lore_args(session_id, entry)),
                )
            else:
                _, entry_id, keys, content, priority, always_on, updated_at = strip_nul(
                    _lore_args(session_id, entry)
                )
                cursor = await conn.execute(
                    "UPDATE lore SET keys = %s, content = %s, priority = %s, always_on = %s,"
                    " updated_at = %s WHERE session_id = %s AND id = %s",
                    (keys, content, priority, always_on, updated_at, session_id, entry_id),
                )
                if not cursor.rowcount:
                    return None
            await self._bump(conn, session_id)
        return entry

    @staticmethod
    async def _bump(conn: AsyncConnection[Any], session_id: str) -> None:
        await conn.execute(
            "UPDATE sessions SET lore_revision = lore_revision + 1 WHERE id = %s", (session_id,)
        )

    async def list_lore(self, session_id: str) -> list[LoreEntry] | None:
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor = await conn.execute("SELECT 1 FROM sessions WHERE id = %s", (session_id,))
            if await cursor.fetchone() is None:
                return None
            return await self._lore(conn, session_id)

    async def delete_lore(self, session_id: str, entry_id: str) -> bool:
        async with self._conn() as conn, conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM lore WHERE session_id = %s AND id = %s", (session_id, entry_id)
            )
            gone = cursor.rowcount > 0
            if gone:
                await self._bump(conn, session_id)
        return gone

    async def turns_between(
        self, session_id: str, after: float, before: float, limit: int
    ) -> list[Turn]:
        async with self._conn() as conn:
            cursor = await conn.execute(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = %s AND {_CURRENT}"
                " AND created_at > %s AND created_at < %s"
                " ORDER BY created_at, stored_order LIMIT %s",
                (session_id, after, before, limit),
            )
            return [turn_from_row(r) for r in await cursor.fetchall()]

    async def save_summary(self, session_id: str, summary: Summary, keep: int) -> None:
        async with self._conn() as conn, conn.transaction():
            try:
                await conn.execute(
                    f"INSERT INTO summaries (session_id, {SUMMARY_COLUMNS})"
                    f" VALUES ({_SUMMARY_MARKS})",
                    strip_nul((session_id, *summary_row(summary))),
                )
            except pg_errors.ForeignKeyViolation:
                return  # the session was deleted: nothing to keep
            await conn.execute(
                "DELETE FROM summaries WHERE session_id = %s AND stored_order NOT IN (SELECT"
                " stored_order FROM summaries WHERE session_id = %s"
                " ORDER BY through DESC, stored_order DESC LIMIT %s)",
                (session_id, session_id, keep),
            )

    async def save_context(
        self, session_id: str, turn_id: str, sections: tuple[Section, ...], keep: int
    ) -> None:
        blob = sections_blob(sections)
        async with self._conn() as conn:
            with contextlib.suppress(pg_errors.ForeignKeyViolation):  # the session is gone
                async with conn.transaction():
                    await self._write_context(conn, session_id, turn_id, blob, keep)

    async def _write_context(
        self, conn: AsyncConnection[Any], session_id: str, turn_id: str, blob: bytes, keep: int
    ) -> None:
        """Inside a transaction: the turn's recorded prompt (the first one stays), and only
        the session's newest `keep` of them, `Pruning` (of this server) saying when
        (`ForeignKeyViolation`: no such session)."""
        await conn.execute(
            "INSERT INTO turn_contexts (session_id, turn_id, sections, created_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (session_id, turn_id) DO NOTHING",
            (session_id, turn_id, blob, time.time()),
        )
        if not self._pruning.due(session_id, keep):
            return
        await conn.execute(
            "DELETE FROM turn_contexts WHERE session_id = %s AND turn_id NOT IN (SELECT"
            " turn_id FROM turn_contexts WHERE session_id = %s"
            " ORDER BY created_at DESC LIMIT %s)",
            (session_id, session_id, keep),
        )

    async def turn_context(self, session_id: str, turn_id: str) -> tuple[Section, ...] | None:
        async with self._conn() as conn:
            cursor = await conn.execute(
                "SELECT sections FROM turn_contexts WHERE session_id = %s AND turn_id = %s",
                (session_id, turn_id),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            context = read_context(bytes(row[0]))
            ids = sorted(set(context.turn_ids))
            found = await self._turns(conn, "session_id = %s AND id = ANY(%s)", (session_id, ids),
                                      len(ids)) if ids else []  # fmt: skip
        return context_sections(context, {t.turn_id: t for t in found})

    async def export_session(self, session_id: str) -> SavedSession | None:
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor = await conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = %s", (session_id,)
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            turns = await self._turns(conn, "session_id = %s", (session_id,), 1_000_000)
            lore = await self._lore(conn, session_id)
            cursor = await conn.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM summaries WHERE session_id = %s"
                " ORDER BY through, stored_order",
                (session_id,),
            )
            summaries = [summary_from_row(r) for r in await cursor.fetchall()]
        session = session_from_row(row, len(turns), ())
        return SavedSession(session, tuple(reversed(turns)), tuple(lore), tuple(summaries))

    async def import_session(self, saved: SavedSession) -> None:
        sid = saved.session.session_id
        async with self._conn() as conn, conn.transaction():
            marks = ", ".join(["%s"] * (SESSION_COLUMNS.count(",") + 1))
            await conn.execute(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({marks})",
                strip_nul(session_row(saved.session)),
            )
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    f"INSERT INTO turns ({TURN_COLUMNS}) VALUES ({_TURN_MARKS})",
                    [strip_nul(turn_row(t)) for t in saved.turns],
                )
                await cursor.executemany(
                    f"INSERT INTO lore (session_id, {LORE_COLUMNS}) VALUES ({_LORE_MARKS})",
                    [strip_nul(_lore_args(sid, e)) for e in saved.lore],
                )
                await cursor.executemany(
                    f"INSERT INTO summaries (session_id, {SUMMARY_COLUMNS})"
                    f" VALUES ({_SUMMARY_MARKS})",
                    [strip_nul((sid, *summary_row(x))) for x in saved.summaries],
                )
            if saved.lore:
                await self._bump(conn, sid)


def strip_nul(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """PostgreSQL text cannot hold U+0000: it is dropped rather than failing the write."""
    return tuple(v.replace("\x00", "") if isinstance(v, str) and "\x00" in v else v for v in row)
