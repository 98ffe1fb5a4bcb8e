"""API keys in the SQLite store: the same file and worker thread as the sessions."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ..core.errors import FieldViolation, InvalidArgument
from ..core.keys import KeyUsage
from .key_codec import BUMP_REVISION, KEY_COLUMNS, key_from_row, key_row

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator, Mapping

    from ..core.keys import ApiKey
    from .sqlite import SqliteStore


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


class SqliteKeyStore:
    """`KeyStore` on the session store's database."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def create_key(self, key: ApiKey) -> None:
        await self._store._call(self._create, key)

    def _create(self, key: ApiKey) -> None:
        db = self._store.db
        with _transaction(db):
            taken = db.execute(
                "SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL", (key.name,)
            ).fetchone()
            if taken is not None:
                raise InvalidArgument(
                    [FieldViolation("name", f"the active key {taken[0]} is already named that")]
                )
            marks = ", ".join("?" * len(key_row(key)))
            db.execute(f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ({marks})", key_row(key))
            db.execute(BUMP_REVISION)

    async def list_keys(self) -> list[ApiKey]:
        return await self._store._call(self._list)

    def _list(self) -> list[ApiKey]:
        rows = self._store.db.execute(
            f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, rowid"
        ).fetchall()
        return [key_from_row(r) for r in rows]

    async def revoke_key(self, id_or_name: str, at: float) -> ApiKey | None:
        return await self._store._call(self._revoke, id_or_name, at)

    def _revoke(self, id_or_name: str, at: float) -> ApiKey | None:
        db = self._store.db
        with _transaction(db):
            row = db.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1 OR name = ?1"
                " ORDER BY id = ?1 DESC, revoked_at IS NULL DESC, created_at DESC LIMIT 1",
                (id_or_name,),
            ).fetchone()
            if row is None:
                return None
            key = key_from_row(row)
            if key.revoked:
                return key
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (at, key.key_id))
            db.execute(BUMP_REVISION)
        return key_from_row((*row[:10], at))

    async def key_revision(self) -> int:
        return await self._store._call(self._revision)

    def _revision(self) -> int:
        return int(
            self._store.db.execute("SELECT value FROM api_key_revision WHERE id = 1").fetchone()[0]
        )

    async def add_key_usage(
        self, day: str, usage: Mapping[str, KeyUsage], last_used: Mapping[str, float]
    ) -> None:
        await self._store._call(self._add_usage, day, dict(usage), dict(last_used))

    def _add_usage(self, day: str, usage: dict[str, KeyUsage], last_used: dict[str, float]) -> None:
        db = self._store.db
        with _transaction(db):
            db.executemany(
                "INSERT INTO api_key_usage (key_id, day, requests, input_tokens, output_tokens)"
                " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?1)"
                " ON CONFLICT (key_id, day) DO UPDATE SET requests = requests + excluded.requests,"
                " input_tokens = input_tokens + excluded.input_tokens,"
                " output_tokens = output_tokens + excluded.output_tokens",
                [(k, day, u.requests, u.input_tokens, u.output_tokens) for k, u in usage.items()],
            )
            db.executemany(
                "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?",
                [(at, k) for k, at in last_used.items()],
            )

    async def key_usage(self, day: str) -> dict[str, KeyUsage]:
        return await self._store._call(self._usage, day)

    def _usage(self, day: str) -> dict[str, KeyUsage]:
        rows = self._store.db.execute(
            "SELECT key_id, requests, input_tokens, output_tokens FROM api_key_usage WHERE day = ?",
            (day,),
        ).fetchall()
        return {r[0]: KeyUsage(r[1], r[2], r[3]) for r in rows}
