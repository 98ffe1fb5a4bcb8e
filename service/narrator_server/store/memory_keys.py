"""In-memory key store: the fake of `KeyStore` for core tests (nothing survives)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import TYPE_CHECKING

from ..core.errors import FieldViolation, InvalidArgument
from ..core.keys import KeyUsage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.keys import ApiKey


class MemoryKeyStore:
    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.usage: dict[tuple[str, str], KeyUsage] = defaultdict(KeyUsage)
        self.revision = 0

    async def create_key(self, key: ApiKey) -> None:
        if any(k.name == key.name and not k.revoked for k in self.keys.values()):
            raise InvalidArgument([FieldViolation("name", "an active key is already named that")])
        self.keys[key.key_id] = key
        self.revision += 1

    async def list_keys(self) -> list[ApiKey]:
        return list(self.keys.values())

    async def revoke_key(self, id_or_name: str, at: float) -> ApiKey | None:
        named = [k for k in self.keys.values() if k.name == id_or_name]
        named.sort(key=lambda k: (not k.revoked, k.created_at))
        key = self.keys.get(id_or_name) or (named[-1] if named else None)
        if key is None or key.revoked:
            return key
        self.keys[key.key_id] = key = dataclasses.replace(key, revoked_at=at)
        self.revision += 1
        return key

    async def key_revision(self) -> int:
        return self.revision

    async def add_key_usage(
        self, day: str, usage: Mapping[str, KeyUsage], last_used: Mapping[str, float]
    ) -> None:
        for key_id, amount in usage.items():
            if key_id in self.keys:
                self.usage[(key_id, day)] += amount
        for key_id, at in last_used.items():
            key = self.keys.get(key_id)
            if key is not None and (key.last_used_at or 0) < at:
                self.keys[key_id] = dataclasses.replace(key, last_used_at=at)

    async def key_usage(self, day: str) -> dict[str, KeyUsage]:
        return {k: u for (k, d), u in self.usage.items() if d == day}
