"""PostgreSQL session store: psycopg 3 async over a psycopg-pool connection pool.

Every call borrows a pooled connection (autocommit; the pool checks it before handing it out,
so connections broken by a database restart are replaced instead of failing a call) and is
bounded by `timeout` as a whole: waiting for a connection, connecting, and the query. While
the database is unreachable calls fail after `DOWN_WAIT_S` instead, and the pool gives up a
reconnection after `timeout` so that the next call tries afresh: psycopg-pool's own backoff
would otherwise keep a recovered database unused for up to minutes. Driver errors never
leave this module: they become `StoreUnavailable` with a short reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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
from .postgres_keys import PostgresKeyStore
from .postgres_memory import PostgresMemoryMixin, strip_nul
from .postgres_schema import SchemaError, migrate

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from psycopg import AsyncConnection

    from ..core.memory_models import TurnRecord
    from ..core.models import Session, Turn

log = logging.getLogger(__name__)

_PLACEHOLDERS = ", ".join(["%s"] * TURN_COLUMN_COUNT)
_SESSION_PLACEHOLDERS = ", ".join(["%s"] * (SESSION_COLUMNS.count(",") + 1))
_SAVE_TURN = (
    f"INSERT INTO turns ({TURN_COLUMNS}) VALUES ({_PLACEHOLDERS})"
    f" ON CONFLICT (session_id, id) DO UPDATE SET {TURN_UPDATE}"
    " WHERE excluded.status <> %s OR turns.status = %s"
)
_ORDER = "ORDER BY created_at DESC, stored_order DESC"
RUNNING_TURNS_LIMIT = 10_000
DOWN_WAIT_S = 1.0


def describe(url: str) -> str:
    """Where a database URL points, for messages: `user@host:port/dbname`, never a password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{user}{host}{port}{parts.path or '/'}"


def explain(error: BaseException) -> str:
    """A driver error as a short reason an operator can act on."""
    if isinstance(error, PoolTimeout):
        return "no database connection became free in time (the database is slow or down)"
    state = getattr(error, "sqlstate", None) or ""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if state == "25006":
        return "the database is read-only (is the URL pointing at a standby?)"
    if state.startswith("53"):
        return "the database is out of resources (disk, memory or connections)"
    if state in ("57P01", "57P02", "57P03"):
        return "the database is shutting down or starting up"
    # A failed connection carries no SQLSTATE: libpq's message says what happened.
    if state in ("28P01", "28000") or "authentication failed" in text:
        return f"the database refused the credentials ({text})"
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return f"the database does not exist ({text})"
    if isinstance(error, psycopg.OperationalError):
        return f"the database cannot be reached ({text})"
    return f"the database cannot serve the call ({text})"


class PostgresStore(PostgresMemoryMixin):
    """`SessionStore` and `MemoryStorage` on PostgreSQL. Safe to share between any number of
    replicas."""

    def __init__(self, pool: AsyncConnectionPool[Any], timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._down = False  # the last call could not reach the database
        self.keys = PostgresKeyStore(self)
        self._rows = TurnRows()
        self._pruning = Pruning()

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 8, timeout: float = 5.0) -> PostgresStore:
        """Connects, brings the schema up to date, and opens the pool; `StoreUnavailable`
        says why it could not."""
        connect_timeout = max(2, math.ceil(timeout))  # libpq's unit is whole seconds, min 2
        try:
            async with asyncio.timeout(timeout):
                first = await psycopg.AsyncConnection.connect(
                    url, autocommit=True, connect_timeout=connect_timeout
                )
        except TimeoutError:
            raise StoreUnavailable(f"the database did not answer within {timeout:g} s") from None
        except psycopg.Error as error:
            raise StoreUnavailable(explain(error)) from None
        try:
            async with first:
                await migrate(first)
        except SchemaError as error:
            raise StoreUnavailable(str(error)) from None
        except psycopg.Error as error:
            raise StoreUnavailable(f"the schema could not be brought up to date: {error}") from None
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            min_size=min(2, pool_size),
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": connect_timeout},
            check=AsyncConnectionPool.check_connection,
            timeout=timeout,
            reconnect_timeout=max(2.0, timeout),
            open=False,
            name="narrator",
        )
        try:
            await pool.open(wait=True, timeout=timeout)
        except psycopg.Error as error:
            await pool.close()
            raise StoreUnavailable(explain(error)) from None
        return cls(pool, timeout)

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection for one call, within the call's time bound."""
        wait = min(self._timeout, DOWN_WAIT_S) if self._down else self._timeout
        try:
            async with asyncio.timeout(wait), self._pool.connection() as conn:
                yield conn
        except TimeoutError:
            self._went_down()
            raise StoreUnavailable(
                f"storage unavailable: no answer from the database within {wait:g} s "
                "(it is down, unreachable or overloaded)"
            ) from None
        except psycopg.Error as error:
            if isinstance(error, psycopg.OperationalError):
                self._went_down()
            log.error("storage error", extra={"error": str(error), "sqlstate": error.sqlstate})
            raise StoreUnavailable(f"storage unavailable: {explain(error)}") from None
        if self._down:
            self._down = False
            log.info("the database answers again")

    def _went_down(self) -> None:
        if not self._down:
            self._down = True
            log.error("the database cannot be reached", extra={"timeout_s": self._timeout})

    async def _turns(
        self,
        conn: AsyncConnection[Any],
        where: str,
        args: tuple[Any, ...],
        limit: int,
        columns: str = TURN_COLUMNS,
    ) -> list[Turn]:
        cursor = await conn.execute(
            f"SELECT {columns} FROM turns WHERE {where} {_ORDER} LIMIT %s",
            (*args, limit),
        )
        return [self._rows.decode(r) for r in await cursor.fetchall()]

    async def create_session(self, session: Session) -> None:
        async with self._conn() as conn:
            await conn.execute(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({_SESSION_PLACEHOLDERS})",
                strip_nul(session_row(session)),
            )

    async def get_session(self, session_id: str, recent_turn_limit: int) -> Session | None:
        async with self._conn() as conn:
            cursor = await conn.execute(
                f"SELECT {SESSION_COLUMNS}, turn_total FROM sessions WHERE id = %s",
                (session_id,),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            turns = []
            if recent_turn_limit > 0:
                turns = await self._turns(conn, "session_id = %s", (session_id,), recent_turn_limit)
        return session_from_row(row[:-1], int(row[-1]), tuple(reversed(turns)))

    async def delete_session(self, session_id: str) -> bool:
        async with self._conn() as conn:
            cursor = await conn.execute("DELETE FROM sessions WHERE id = %s", (session_id,))
            return cursor.rowcount > 0

    async def get_turn(self, session_id: str, turn_id: str) -> Turn | None:
        async with self._conn() as conn:
            turns = await self._turns(conn, "session_id = %s AND id = %s", (session_id, turn_id), 1)
        return turns[0] if turns else None

    async def recent_completed_turns(self, session_id: str, limit: int) -> list[Turn]:
        if limit <= 0:
            return []
        async with self._conn() as conn:
            return await self._turns(
                conn,
                "session_id = %s AND status = %s AND NOT superseded",
                (session_id, TurnStatus.COMPLETED.value),
                limit,
            )

    async def claim_turn(self, turn: Turn) -> Turn | None:
        key = (turn.session_id, turn.turn_id)
        async with self._conn() as conn:
            try:
                cursor = await conn.execute(
                    f"INSERT INTO turns ({TURN_COLUMNS}) VALUES ({_PLACEHOLDERS})"
                    " ON CONFLICT (session_id, id) DO NOTHING",
                    strip_nul(turn_row(turn)),
                )
            except pg_errors.ForeignKeyViolation:
                raise SessionNotFound(turn.session_id) from None
            if cursor.rowcount:
                return None
            existing = await self._turns(conn, "session_id = %s AND id = %s", key, 1)
        if not existing:  # the session (and so the turn) was deleted in between
            raise SessionNotFound(turn.session_id)
        return existing[0]

    async def save_turn(self, turn: Turn, record: TurnRecord | None = None) -> None:
        # An INTERRUPTED mark only replaces a RUNNING row, never how a turn ended.
        row = (*strip_nul(turn_row(turn)), TurnStatus.INTERRUPTED.value, TurnStatus.RUNNING.value)
        async with self._conn() as conn:
            # The foreign key refuses a turn of a deleted session: nothing is stored.
            with contextlib.suppress(pg_errors.ForeignKeyViolation):
                if record is None:
                    await conn.execute(_SAVE_TURN, row)
                    return
                blob = sections_blob(record.sections)
                async with conn.transaction():
                    await conn.execute(_SAVE_TURN, row)
                    await self._write_context(
                        conn, turn.session_id, turn.turn_id, blob, record.keep
                    )

    async def running_turns(self, started_before: float) -> list[Turn]:
        async with self._conn() as conn:
            return await self._turns(
                conn,
                "status = %s AND created_at < %s",
                (TurnStatus.RUNNING.value, started_before),
                RUNNING_TURNS_LIMIT,
            )

    async def supersede_turn(self, session_id: str, turn_id: str) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "UPDATE turns SET superseded = true WHERE session_id = %s AND id = %s",
                (session_id, turn_id),
            )

    async def check_writable(self) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO probe (id, at) VALUES (1, %s)"
                " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                (time.time(),),
            )

    async def close(self) -> None:
        await self._pool.close()
