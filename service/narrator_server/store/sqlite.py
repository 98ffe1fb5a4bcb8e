"""SQLite session store: one connection on one worker thread, WAL, every write committed.

Driver errors never leave this module: a store that cannot read or write (disk full, damaged
file, read-only directory) raises `StoreUnavailable`, which callers get as UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import SessionNotFound, StoreUnavailable
from ..core.models import TurnStatus
from .codec import (
    SESSION_COLUMNS,
    TURN_COLUMN_COUNT,
    TURN_COLUMNS,
    TURN_UPDATE,
    session_from_row,
    session_row,
    turn_from_row,
    turn_row,
)
from .sqlite_keys import SqliteKeyStore
from .sqlite_memory import SqliteMemoryMixin
from .sqlite_schema import migrate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from ..core.models import Session, Turn

T = TypeVar("T")
log = logging.getLogger(__name__)
DB_FILE = "narrator.sqlite3"  # in NARRATOR_DATA_DIR

_PLACEHOLDERS = ", ".join("?" * TURN_COLUMN_COUNT)


def _explain(error: sqlite3.Error) -> str:
    text = str(error)
    if "full" in text:
        return "the disk is full"
    if "readonly" in text or "read-only" in text:
        return "the database is read-only"
    if "malformed" in text or "not a database" in text:
        return "the database file is damaged"
    if "unable to open" in text:
        return "the database file cannot be opened (permissions, or a read-only directory)"
    if "locked" in text or "busy" in text:
        return "the database is locked by another process"
    return "the database cannot be used"


class SqliteStore(SqliteMemoryMixin):
    """`SessionStore` and `MemoryStorage` on a SQLite file (and its `KeyStore`, `keys`). Calls
    run on a single worker thread, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None
        self.keys = SqliteKeyStore(self)

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Opens (creating or migrating) the database; `StoreUnavailable` says why not."""
        store = cls(path)
        try:
            await store._call(store._connect)
        except BaseException:
            await store.close()
            raise
        return store

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(f"cannot create the data directory ({error.strerror})") from None
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db = db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
        try:
            migrate(db)
        except RuntimeError as error:
            raise StoreUnavailable(str(error)) from None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._guarded, fn, args)
        except RuntimeError as error:  # the executor was shut down: the store is closed
            raise StoreUnavailable("the store is closed") from error

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        except sqlite3.Error as error:
            if self._db is not None and self._db.in_transaction:
                self._db.rollback()
            log.error("storage error", extra={"error": str(error), "path": str(self.path)})
            raise StoreUnavailable(f"storage unavailable: {_explain(error)}") from None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailable("the store is closed")
        return self._db

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        """One transaction on the worker thread: committed, or rolled back on any error."""
        db = self.db
        db.execute(begin)
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.execute("COMMIT")

    async def create_session(self, session: Session) -> None:
        row = session_row(session)
        marks = ", ".join("?" * len(row))
        await self._call(
            self.db.execute, f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({marks})", row
        )

    async def get_session(self, session_id: str, recent_turn_limit: int) -> Session | None:
        return await self._call(self._get_session, session_id, recent_turn_limit)

    def _get_session(self, session_id: str, limit: int) -> Session | None:
        row = self.db.execute(
            f"SELECT {SESSION_COLUMNS}, (SELECT COUNT(*) FROM turns WHERE session_id = sessions.id)"
            " FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        if row is None:
            return None
        turns = self._turns("session_id = ?", (session_id,), limit) if limit else []
        return session_from_row(row[:-1], row[-1], tuple(reversed(turns)))

    async def delete_session(self, session_id: str) -> bool:
        cursor = await self._call(
            self.db.execute, "DELETE FROM sessions WHERE id = ?", (session_id,)
        )
        return cursor.rowcount > 0

    async def get_turn(self, session_id: str, turn_id: str) -> Turn | None:
        turns = await self._call(self._turns, "session_id = ? AND id = ?", (session_id, turn_id), 1)
        return turns[0] if turns else None

    async def recent_completed_turns(self, session_id: str, limit: int) -> list[Turn]:
        return await self._call(
            self._turns,
            "session_id = ? AND status = ? AND superseded = 0",
            (session_id, TurnStatus.COMPLETED.value),
            limit,
        )

    async def running_turns(self, started_before: float) -> list[Turn]:
        return await self._call(
            self._turns,
            "status = ? AND created_at < ?",
            (TurnStatus.RUNNING.value, started_before),
            10_000,
        )

    def _turns(self, where: str, args: tuple[Any, ...], limit: int) -> list[Turn]:
        rows = self.db.execute(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE {where}"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [turn_from_row(r) for r in rows]

    async def claim_turn(self, turn: Turn) -> Turn | None:
        return await self._call(self._claim, turn)

    def _claim(self, turn: Turn) -> Turn | None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            found = db.execute("SELECT 1 FROM sessions WHERE id = ?", (turn.session_id,))
            if found.fetchone() is None:
                raise SessionNotFound(turn.session_id)
            inserted = db.execute(
                f"INSERT INTO turns ({TURN_COLUMNS}) VALUES ({_PLACEHOLDERS})"
                " ON CONFLICT (session_id, id) DO NOTHING",
                turn_row(turn),
            ).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise
        if inserted:
            return None
        existing = self._turns("session_id = ? AND id = ?", (turn.session_id, turn.turn_id), 1)
        return existing[0] if existing else None

    async def save_turn(self, turn: Turn) -> None:
        # Only into an existing session: nothing is stored when it was deleted mid-turn.
        await self._call(
            self.db.execute,
            f"INSERT INTO turns ({TURN_COLUMNS}) SELECT {_PLACEHOLDERS}"
            " WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)"
            f" ON CONFLICT (session_id, id) DO UPDATE SET {TURN_UPDATE}",
            (*turn_row(turn), turn.session_id),
        )

    async def supersede_turn(self, session_id: str, turn_id: str) -> None:
        await self._call(
            self.db.execute,
            "UPDATE turns SET superseded = 1 WHERE session_id = ? AND id = ?",
            (session_id, turn_id),
        )

    async def check_writable(self) -> None:
        await self._call(
            self.db.execute, "INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)", (time.time(),)
        )

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(sqlite3.Error, RuntimeError):
                await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=True)
