"""Rows of API keys as plain tuples: one codec for every SQL adapter (column order
`KEY_COLUMNS`); `BUMP_REVISION` moves the number servers poll to refresh their keys."""

from __future__ import annotations

from typing import Any

from ..core.keys import ApiKey
from ..core.models import KeyLimits

KEY_COLUMNS = (
    "id, name, tenant, secret_hash, requests_per_minute, tokens_per_minute, tokens_per_day,"
    " player_requests_per_minute, created_at, last_used_at, revoked_at"
)
BUMP_REVISION = "UPDATE api_key_revision SET value = value + 1 WHERE id = 1"


def key_row(key: ApiKey) -> tuple[Any, ...]:
    limits = key.limits
    return (
        key.key_id, key.name, key.tenant, key.secret_hash, limits.requests_per_minute,
        limits.tokens_per_minute, limits.tokens_per_day, limits.player_requests_per_minute,
        key.created_at, key.last_used_at, key.revoked_at,
    )  # fmt: skip


def key_from_row(row: tuple[Any, ...]) -> ApiKey:
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
