"""SQLite session store: one connection on one worker thread, WAL, every write committed.

Driver errors never leave this module: a store that cannot read or write (disk full, damaged
file, read-only directory) raises `StoreUnavailable`, which callers get as UNAVAILABLE. Once a
call finds the file damaged, `check_writable` fails (health NOT_SERVING) until SQLite's own
integrity check passes again. A file that cannot be used at all fails `open` with one line
saying what is wrong and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import SessionNotFound, StoreUnavailable
from ..core.models import TurnStatus
from .codec import (
    SESSION_COLUMNS,
    TURN_COLUMN_COUNT,
    TURN_COLUMNS,
    TURN_UPDATE,
    TurnRows,
    session_from_row,
    session_row,
    turn_row,
)
from .memory_codec import Pruning, sections_blob
from .serial_worker import SerialWorker
from .sqlite_faults import DAMAGED, DataDirLock, check_whole_pages, explain, is_damage
from .sqlite_keys import SqliteKeyStore
from .sqlite_memory import SqliteMemoryMixin
from .sqlite_recent import RecentTurns
from .sqlite_schema import migrate

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from ..core.memory_models import TurnRecord
    from ..core.models import Session, Turn

T = TypeVar("T")
log = logging.getLogger(__name__)
DB_FILE = "narrator.sqlite3"  # in NARRATOR_DATA_DIR

_PLACEHOLDERS = ", ".join("?" * TURN_COLUMN_COUNT)
_SAVE_TURN = (
    f"INSERT INTO turns ({TURN_COLUMNS}) SELECT {_PLACEHOLDERS}"
    " WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)"
    f" ON CONFLICT (session_id, id) DO UPDATE SET {TURN_UPDATE}"
    " WHERE excluded.status != ? OR turns.status = ?"
    " RETURNING rowid"  # what the kept window orders by: no second statement to read it
)
_INTERRUPTED, _RUNNING = TurnStatus.INTERRUPTED.value, TurnStatus.RUNNING.value


class SqliteStore(SqliteMemoryMixin):
    """`SessionStore` and `MemoryStorage` on a SQLite file (and its `KeyStore`, `keys`). Calls
    run on a single worker thread, in order."""

    def __init__(self, path: Path, *, server: bool = False) -> None:
        self.path = path
        self._worker = SerialWorker("sqlite")
        self._db: sqlite3.Connection | None = None
        # One server per data dir (tools such as the keys CLI may open it alongside).
        self._lock = DataDirLock(path.with_name(path.name + ".lock")) if server else None
        self.damage: str | None = None  # set when a call found the file damaged
        self.keys = SqliteKeyStore(self)
        self._rows = TurnRows()  # used on the worker thread only
        self._recent = RecentTurns()  # the same
        self._pruning = Pruning()  # the same

    @classmethod
    async def open(cls, path: Path, *, server: bool = False) -> SqliteStore:
        """Opens (creating or migrating) the database and proves it can write;
        `StoreUnavailable` says what is wrong and what to do. A `server` holds the data dir
        for itself: a second server on it fails here."""
        store = cls(path, server=server)
        try:
            await store._call(store._connect)
        except BaseException:
            await store.close()
            raise
        return store

    def _connect(self) -> None:
        directory = self.path.parent
        if directory.exists() and not directory.is_dir():
            raise StoreUnavailable(
                "NARRATOR_DATA_DIR is a file, not a directory; point it at a directory"
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(
                f"the data directory cannot be created ({error.strerror}); point "
                "NARRATOR_DATA_DIR at a directory this server can write"
            ) from None
        if self._lock is not None:
            self._lock.acquire()
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db = db
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
            check_whole_pages(db, self.path)
            migrate(db)
            self._probe()
        except sqlite3.Error as error:
            what, todo = explain(error)
            raise StoreUnavailable(f"{what}; {todo}") from None
        except RuntimeError as error:  # a schema from a newer release
            raise StoreUnavailable(
                f"{error}; run a newer server, or restore a backup this version made"
            ) from None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            answer: asyncio.Future[T] = self._worker.call(self._guarded, fn, args)
        except RuntimeError as error:  # the worker was closed: so is the store
            raise StoreUnavailable("the store is closed") from error
        return await answer

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        except sqlite3.Error as error:
            if self._db is not None and self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.rollback()
            what, todo = explain(error)
            if is_damage(error):
                self.damage = what
            log.error(
                "storage error",
                extra={"error": str(error), "what": what, "todo": todo, "path": str(self.path)},
            )
            raise StoreUnavailable(f"storage unavailable: {what}") from None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailable("the store is closed")
        return self._db

    @contextlib.contextmanager
    def _transaction(self, begin: str, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction on the worker thread: committed, or rolled back on any error. Not
        `durable`: committed without an fsync (WAL, synchronous=NORMAL), for rows that losing
        to a power cut costs nothing (a RUNNING claim the ended turn overwrites, a recorded
        context, a summary folded again from the turns); a process crash still loses nothing,
        and the next durable commit syncs it.
        Saves about 100 µs of CPU (and more of waiting) per commit."""
        db = self.db
        if not durable:
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            db.execute(begin)
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            db.execute("COMMIT")
        finally:
            if not durable:
                db.execute("PRAGMA synchronous=FULL")

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
            f"SELECT {SESSION_COLUMNS}, turn_total FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        if row is None:
            return None
        turns = self._turns("session_id = ?", (session_id,), limit) if limit else []
        return self._decoded(session_from_row, row[:-1], row[-1], tuple(reversed(turns)))

    async def delete_session(self, session_id: str) -> bool:
        return await self._call(self._delete_session, session_id)

    def _delete_session(self, session_id: str) -> bool:
        self._recent.forget(session_id)  # an import may bring the same id back
        return self.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

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
        return [self._decoded(self._rows.decode, r) for r in rows]

    def _decoded_turn(self, row: tuple[Any, ...]) -> Turn:
        return self._decoded(self._rows.fresh, row)

    def _decoded(self, decode: Callable[..., T], *row: Any) -> T:
        """A row this server cannot read (damaged, or written by something else) is the
        store's failure, never the caller's: UNAVAILABLE, not INTERNAL."""
        try:
            return decode(*row)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            log.error(
                "a stored row cannot be read",
                extra={"error": f"{type(error).__name__}: {str(error)[:200]}",
                       "path": str(self.path)},
            )  # fmt: skip
            raise StoreUnavailable(
                "storage unavailable: the database holds a row this server cannot read"
            ) from None

    async def claim_turn(self, turn: Turn) -> Turn | None:
        return await self._call(self._claim, turn)

    def _claim(self, turn: Turn) -> Turn | None:
        # One statement (each one hands the GIL over twice); only when it inserted nothing
        # does a second read say why: the turn exists, or the session does not.
        db = self.db
        db.execute("PRAGMA synchronous=NORMAL")  # see `_transaction`: a claim needs no fsync
        try:
            inserted = db.execute(
                f"INSERT INTO turns ({TURN_COLUMNS}) SELECT {_PLACEHOLDERS}"
                " WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?)"
                " ON CONFLICT (session_id, id) DO NOTHING",
                (*turn_row(turn), turn.session_id),
            ).rowcount
        finally:
            db.execute("PRAGMA synchronous=FULL")
        if inserted:
            return None
        existing = self._turns("session_id = ? AND id = ?", (turn.session_id, turn.turn_id), 1)
        if not existing:
            raise SessionNotFound(turn.session_id)
        return existing[0]

    async def save_turn(self, turn: Turn, record: TurnRecord | None = None) -> None:
        await self._call(self._save_turn, turn, record)

    def _save_turn(self, turn: Turn, record: TurnRecord | None) -> None:
        # Only into an existing session: nothing is stored when it was deleted mid-turn. An
        # INTERRUPTED mark only replaces a RUNNING row, never how the turn really ended.
        row = (*turn_row(turn), turn.session_id, _INTERRUPTED, _RUNNING)
        blob = sections_blob(record.sections) if record else None  # here, off the event loop
        with self._transaction("BEGIN IMMEDIATE") as db:
            wrote = db.execute(_SAVE_TURN, row).fetchall()  # [(rowid,)], or [] if not written
            if record is not None and blob is not None:
                self._write_context(turn.session_id, turn.turn_id, blob, record.keep)
        if wrote and turn.status is TurnStatus.COMPLETED:  # committed: into the kept window
            try:
                self._recent.saved(row[:TURN_COLUMN_COUNT], wrote[0][0], self._decoded_turn)
            except StoreUnavailable:  # stored all the same: read it next time
                self._recent.forget(turn.session_id)

    async def supersede_turn(self, session_id: str, turn_id: str) -> None:
        await self._call(
            self.db.execute,
            "UPDATE turns SET superseded = 1 WHERE session_id = ? AND id = ?",
            (session_id, turn_id),
        )

    async def check_writable(self) -> None:
        """A committed write; while the file is known damaged, SQLite's integrity check must
        pass first (it reads the whole file, so it runs only then)."""
        if self.damage is not None:
            await self._call(self._recheck)
        await self._call(self._probe)

    def _recheck(self) -> None:
        if self.db.execute("PRAGMA quick_check(1)").fetchone() != ("ok",):
            raise StoreUnavailable(f"storage unavailable: {DAMAGED}")
        self.damage = None

    def _probe(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)", (time.time(),))

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(sqlite3.Error, RuntimeError):
                await self._worker.call(db.close)
        self._worker.close()
        if self._lock is not None:
            self._lock.release()
