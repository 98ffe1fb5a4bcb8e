"""API keys in the PostgreSQL store: the same pool (and time bounds) as the sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import errors as pg_errors

from ..core.errors import FieldViolation, InvalidArgument
from ..core.keys import KeyUsage
from .key_codec import BUMP_REVISION, KEY_COLUMNS, key_from_row, key_row

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.keys import ApiKey
    from .postgres import PostgresStore


class PostgresKeyStore:
    """`KeyStore` on the session store's database."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def create_key(self, key: ApiKey) -> None:
        marks = ", ".join(["%s"] * len(key_row(key)))
        async with self._store._conn() as conn, conn.transaction():
            try:
                await conn.execute(
                    f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ({marks})", key_row(key)
                )
            except pg_errors.UniqueViolation:
                raise InvalidArgument(
                    [FieldViolation("name", "an active key is already named that")]
                ) from None
            await conn.execute(BUMP_REVISION)

    async def list_keys(self) -> list[ApiKey]:
        async with self._store._conn() as conn:
            cursor = await conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            )
            return [key_from_row(r) for r in await cursor.fetchall()]

    async def revoke_key(self, id_or_name: str, at: float) -> ApiKey | None:
        async with self._store._conn() as conn, conn.transaction():
            cursor = await conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = %(k)s OR name = %(k)s"
                " ORDER BY id = %(k)s DESC, revoked_at IS NULL DESC, created_at DESC LIMIT 1"
                " FOR UPDATE",
                {"k": id_or_name},
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            key = key_from_row(row)
            if key.revoked:
                return key
            await conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE id = %s", (at, key.key_id)
            )
            await conn.execute(BUMP_REVISION)
        return key_from_row((*row[:10], at))

    async def key_revision(self) -> int:
        async with self._store._conn() as conn:
            cursor = await conn.execute("SELECT value FROM api_key_revision WHERE id = 1")
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def add_key_usage(
        self, day: str, usage: Mapping[str, KeyUsage], last_used: Mapping[str, float]
    ) -> None:
        async with self._store._conn() as conn, conn.transaction(), conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO api_key_usage (key_id, day, requests, input_tokens,"
                " output_tokens) SELECT %(k)s, %(d)s, %(r)s, %(i)s, %(o)s"
                " WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = %(k)s)"
                " ON CONFLICT (key_id, day) DO UPDATE SET"
                " requests = api_key_usage.requests + excluded.requests,"
                " input_tokens = api_key_usage.input_tokens + excluded.input_tokens,"
                " output_tokens = api_key_usage.output_tokens + excluded.output_tokens",
                [
                    {
                        "k": k,
                        "d": day,
                        "r": u.requests,
                        "i": u.input_tokens,
                        "o": u.output_tokens,
                    }
                    for k, u in usage.items()
                ],
            )
            await cursor.executemany(
                "UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, 0), %s)"
                " WHERE id = %s",
                [(at, k) for k, at in last_used.items()],
            )

    async def key_usage(self, day: str) -> dict[str, KeyUsage]:
        async with self._store._conn() as conn:
            cursor = await conn.execute(
                "SELECT key_id, requests, input_tokens, output_tokens FROM api_key_usage"
                " WHERE day = %s",
                (day,),
            )
            rows = await cursor.fetchall()
        return {r[0]: KeyUsage(int(r[1]), int(r[2]), int(r[3])) for r in rows}
