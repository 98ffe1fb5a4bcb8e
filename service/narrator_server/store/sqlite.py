"""SQLite session store: one connection on one worker thread, WAL, every write committed."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.models import (
    FinishReason,
    PlayerCharacter,
    Session,
    Setting,
    Turn,
    TurnKind,
    TurnStatus,
    Usage,
)
from .codec import (
    decision_from_json,
    decision_to_json,
    recoveries_from_json,
    recoveries_to_json,
    scene_from_json,
    scene_to_json,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    world TEXT NOT NULL,
    tone TEXT NOT NULL,
    player_name TEXT NOT NULL,
    player_description TEXT NOT NULL,
    seed INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    input TEXT NOT NULL,
    scene TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    decision TEXT,
    created_at REAL NOT NULL,
    recoveries TEXT NOT NULL DEFAULT '[]',
    delta_lengths TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns(session_id, created_at);
"""

TURN_COLUMNS = (
    "id, session_id, kind, input, scene, text, status, provider, model,"
    " input_tokens, output_tokens, finish_reason, decision, created_at, recoveries, delta_lengths"
)
# Columns added after the first release, for data dirs created before them.
MIGRATIONS = {
    "recoveries": "ALTER TABLE turns ADD COLUMN recoveries TEXT NOT NULL DEFAULT '[]'",
    "delta_lengths": "ALTER TABLE turns ADD COLUMN delta_lengths TEXT NOT NULL DEFAULT '[]'",
}


def to_signed64(value: int) -> int:
    """SQLite integers are signed 64-bit; seeds are unsigned (read back with `% 2**64`)."""
    return value - 2**64 if value >= 2**63 else value


class SqliteStore:
    """`SessionStore` on a SQLite file. Calls run on a single worker thread, in order."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        store = cls(path)
        await store._call(store._connect)
        return store

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        present = {row[1] for row in db.execute("PRAGMA table_info(turns)")}
        for column, statement in MIGRATIONS.items():
            if column not in present:
                db.execute(statement)
        self._db = db

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the store is closed")
        return self._db

    async def create_session(self, session: Session) -> None:
        await self._call(
            self.db.execute,
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                session.session_id,
                session.setting.world,
                session.setting.tone,
                session.player.name,
                session.player.description,
                to_signed64(session.seed),
                session.created_at,
            ),
        )

    async def get_session(self, session_id: str, recent_turn_limit: int) -> Session | None:
        return await self._call(self._get_session, session_id, recent_turn_limit)

    def _get_session(self, session_id: str, limit: int) -> Session | None:
        row = self.db.execute(
            "SELECT id, world, tone, player_name, player_description, seed, created_at,"
            " (SELECT COUNT(*) FROM turns WHERE session_id = sessions.id)"
            " FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        if row is None:
            return None
        turns = self._turns("session_id = ?", (session_id,), limit) if limit else []
        return Session(
            session_id=row[0],
            setting=Setting(row[1], row[2]),
            player=PlayerCharacter(row[3], row[4]),
            seed=row[5] % 2**64,
            created_at=row[6],
            turn_count=row[7],
            recent_turns=tuple(reversed(turns)),
        )

    async def delete_session(self, session_id: str) -> bool:
        cursor = await self._call(
            self.db.execute, "DELETE FROM sessions WHERE id = ?", (session_id,)
        )
        return cursor.rowcount > 0

    async def get_turn(self, turn_id: str) -> Turn | None:
        turns = await self._call(self._turns, "id = ?", (turn_id,), 1)
        return turns[0] if turns else None

    async def recent_completed_turns(self, session_id: str, limit: int) -> list[Turn]:
        return await self._call(
            self._turns,
            "session_id = ? AND status = ?",
            (session_id, TurnStatus.COMPLETED.value),
            limit,
        )

    def _turns(self, where: str, args: tuple[Any, ...], limit: int) -> list[Turn]:
        rows = self.db.execute(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE {where}"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [
            Turn(
                turn_id=r[0],
                session_id=r[1],
                kind=TurnKind(r[2]),
                input=r[3],
                scene=scene_from_json(r[4]),
                text=r[5],
                status=TurnStatus(r[6]),
                provider=r[7],
                model=r[8],
                usage=Usage(r[9], r[10]),
                finish_reason=FinishReason(r[11]),
                decision=decision_from_json(r[12]),
                created_at=r[13],
                recoveries=recoveries_from_json(r[14]),
                delta_lengths=tuple(json.loads(r[15])),
            )
            for r in rows
        ]

    async def save_turn(self, turn: Turn) -> None:
        await self._call(self._save_turn, turn)

    def _save_turn(self, turn: Turn) -> None:
        # INSERT ... SELECT stores nothing when the session was deleted mid-turn.
        self.db.execute(
            f"INSERT OR REPLACE INTO turns ({TURN_COLUMNS})"
            " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS"
            " (SELECT 1 FROM sessions WHERE id = ?)",
            (
                turn.turn_id,
                turn.session_id,
                turn.kind.value,
                turn.input,
                scene_to_json(turn.scene),
                turn.text,
                turn.status.value,
                turn.provider,
                turn.model,
                turn.usage.input_tokens,
                turn.usage.output_tokens,
                turn.finish_reason.value,
                decision_to_json(turn.decision),
                turn.created_at,
                recoveries_to_json(turn.recoveries),
                json.dumps(turn.delta_lengths),
                turn.session_id,
            ),
        )

    async def close(self) -> None:
        if self._db is not None:
            await self._call(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)
