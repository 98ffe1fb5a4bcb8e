"""API keys: what a key is, how one is minted and checked, and the `KeyStore` port.

A key reads `nrk_<id>_<secret>`: the id is public (logs, metrics, `keys list`), the secret is
256 random bits shown once when the key is created. Only a SHA-256 of the secret is stored (a
slow password hash buys nothing against a secret that cannot be guessed) and it is compared
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .errors import FieldViolation, InvalidArgument
from .models import NO_LIMITS, KeyLimits

if TYPE_CHECKING:
    from collections.abc import Mapping

PREFIX = "nrk"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
_ID = re.compile(r"^[0-9a-f]{12}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_LIMIT = 10**12


@dataclass(frozen=True)
class ApiKey:
    """One key as stored: never its secret, only the secret's hash."""

    key_id: str
    name: str
    tenant: str
    secret_hash: str = field(repr=False)
    created_at: float
    limits: KeyLimits = NO_LIMITS
    last_used_at: float | None = None
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class KeyUsage:
    """What a key spent in one UTC day."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: KeyUsage) -> KeyUsage:
        return KeyUsage(
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
        )

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def hash_secret(key_id: str, secret: str) -> str:
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def new_key(name: str, tenant: str, limits: KeyLimits, now: float) -> tuple[ApiKey, str]:
    """A new key and the token to give its owner (`nrk_<id>_<secret>`, shown once).
    Raises `InvalidArgument` for a bad name, tenant or limit."""
    check_new_key(name, tenant, limits)
    tenant = tenant or name
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(key_id, name, tenant, hash_secret(key_id, secret), now, limits)
    return key, f"{PREFIX}_{key_id}_{secret}"


def check_new_key(name: str, tenant: str, limits: KeyLimits) -> None:
    """A new key's name, tenant ("": the name) and limits are usable; raises InvalidArgument."""
    violations = []
    for label, value in (("name", name), ("tenant", tenant or name)):
        if not NAME.match(value) and (label == "name" or tenant):
            violations.append(
                FieldViolation(
                    label,
                    "must be 1 to 64 of A-Z a-z 0-9 _ . : @ - (starting with a letter or a digit)",
                )
            )
    for limit, value in vars(limits).items():
        if not 0 <= value <= MAX_LIMIT:
            violations.append(FieldViolation(limit, f"must be 0 (no limit) to {MAX_LIMIT}"))
    if violations:
        raise InvalidArgument(violations)


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token; None for anything else."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not _ID.match(key_id) or not _SECRET.match(secret):
        return None
    return key_id, secret


def matches(key: ApiKey, secret: str) -> bool:
    """Whether the secret is this key's (constant time in the secret)."""
    return hmac.compare_digest(key.secret_hash, hash_secret(key.key_id, secret))


class KeyStore(Protocol):
    """API keys and their daily usage, kept beside the sessions so every server of a
    deployment sees the same keys. Raises `StoreUnavailable` when it cannot serve a call."""

    async def create_key(self, key: ApiKey) -> None:
        """Stores a new key. `InvalidArgument` when an active key already has its name."""

    async def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""

    async def revoke_key(self, id_or_name: str, at: float) -> ApiKey | None:
        """Revokes the key with this id, else the active key with this name; returns it as
        stored now. A key revoked before (by id, else the newest with the name) is returned
        unchanged, with its own time. None when no key matches."""

    async def key_revision(self) -> int:
        """A number that changes whenever a key is created or revoked (cheap to read)."""

    async def add_key_usage(
        self, day: str, usage: Mapping[str, KeyUsage], last_used: Mapping[str, float]
    ) -> None:
        """Adds one batch of usage (key id -> amounts) to the UTC day `day` (YYYY-MM-DD) and
        moves each key's last use forward."""

    async def key_usage(self, day: str) -> dict[str, KeyUsage]:
        """Each key's usage on the UTC day `day`."""
