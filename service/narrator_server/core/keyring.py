"""The keys a server knows: an in-memory copy of the key store, refreshed every second or so.

Authenticating a call reads only this copy (no store read per RPC); `refresh` reads the store's
key revision and reloads the keys only when it moved, so created and revoked keys reach every
server within one refresh period.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .keys import hash_secret, matches, parse_token
from .models import Caller
from .usage import UsageBook

if TYPE_CHECKING:
    from .keys import ApiKey, KeyStore

log = logging.getLogger(__name__)
# Compared against when a token names no known key, so that an unknown id costs the same.
_DUMMY_HASH = hash_secret("000000000000", "x" * 43)


class KeyRing:
    def __init__(self, store: KeyStore, usage: UsageBook | None = None) -> None:
        self._store = store
        self._keys: dict[str, ApiKey] = {}
        self._revision: int | None = None
        self.usage = usage or UsageBook()

    @property
    def loaded(self) -> bool:
        return self._revision is not None

    @property
    def empty(self) -> bool:
        """No key was ever created (revoked keys count as existing)."""
        return not self._keys

    @property
    def active(self) -> int:
        return sum(not k.revoked for k in self._keys.values())

    async def refresh(self) -> bool:
        """Reloads the keys when the store's revision moved; True when they changed."""
        revision = await self._store.key_revision()
        if revision == self._revision:
            return False
        keys = await self._store.list_keys()
        self._keys = {k.key_id: k for k in keys}
        self._revision = revision
        return True

    def authenticate(self, token: str, player: str = "") -> Caller | None:
        """The caller a bearer token stands for; None when the token is malformed, unknown,
        wrong or revoked (the caller learns nothing of which)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        key = self._keys.get(key_id)
        if key is None:
            hash_secret(key_id, secret) == _DUMMY_HASH  # noqa: B015 (same work as a real check)
            return None
        if not matches(key, secret) or key.revoked:
            return None
        self.usage.used(key_id)
        return Caller(key.tenant, key.key_id, player, key.limits)
