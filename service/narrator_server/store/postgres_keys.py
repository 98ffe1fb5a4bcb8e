"""API keys in the PostgreSQL store: the same pool (and time bounds) as the sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import errors as pg_errors

from ..core.errors import FieldViolation, InvalidArgument
from ..core.keys import ApiKey, KeyUsage
from ..core.models import KeyLimits

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .postgres import PostgresStore

_COLUMNS = (
    "id, name, tenant, secret_hash, requests_per_minute, tokens_per_minute, tokens_per_day,"
    " player_requests_per_minute, created_at, last_used_at, revoked_at"
)
_BUMP = "UPDATE api_key_revision SET value = value + 1 WHERE id = 1"


def _row(key: ApiKey) -> tuple[Any, ...]:
    limits = key.limits
    return (
        key.key_id, key.name, key.tenant, key.secret_hash, limits.requests_per_minute,
        limits.tokens_per_minute, limits.tokens_per_day, limits.player_requests_per_minute,
        key.created_at, key.last_used_at, key.revoked_at,
    )  # fmt: skip


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(
        key_id=row[0],
        name=row[1],
        tenant=row[2],
        secret_hash=row[3],
        limits=KeyLimits(int(row[4]), int(row[5]), int(row[6]), int(row[7])),
        created_at=float(row[8]),
        last_used_at=None if row[9] is None else float(row[9]),
        revoked_at=None if row[10] is None else float(row[10]),
    )


class PostgresKeyStore:
    """`KeyStore` on the session store's database."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def create_key(self, key: ApiKey) -> None:
        marks = ", ".join(["%s"] * len(_row(key)))
        async with self._store._conn() as conn, conn.transaction():
            try:
                await conn.execute(f"INSERT INTO api_keys ({_COLUMNS}) VALUES ({marks})", _row(key))
            except pg_errors.UniqueViolation:
                raise InvalidArgument(
                    [FieldViolation("name", "an active key is already named that")]
                ) from None
            await conn.execute(_BUMP)

    async def list_keys(self) -> list[ApiKey]:
        async with self._store._conn() as conn:
            cursor = await conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id")
            return [_key(r) for r in await cursor.fetchall()]

    async def revoke_key(self, id_or_name: str, at: float) -> ApiKey | None:
        async with self._store._conn() as conn, conn.transaction():
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE id = %(k)s OR name = %(k)s"
                " ORDER BY id = %(k)s DESC, revoked_at IS NULL DESC, created_at DESC LIMIT 1"
                " FOR UPDATE",
                {"k": id_or_name},
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            key = _key(row)
            if key.revoked:
                return key
            await conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE id = %s", (at, key.key_id)
            )
            await conn.execute(_BUMP)
        return _key((*row[:10], at))

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
