"""Keys, the key ring (the server's copy of the keys), per-key usage and the auth mode."""

from __future__ import annotations

import pytest

from narrator_server.access import AccessError, auth_mode, is_loopback
from narrator_server.api.auth import AuthMode, bearer_token
from narrator_server.core.errors import InvalidArgument, StoreUnavailable
from narrator_server.core.keyring import KeyRing
from narrator_server.core.keys import KeyUsage, matches, new_key, parse_token
from narrator_server.core.models import Caller, KeyLimits, Usage
from narrator_server.core.usage import UsageBook
from narrator_server.settings import Settings
from narrator_server.store.memory_keys import MemoryKeyStore

LIMITS = KeyLimits(requests_per_minute=60, tokens_per_day=10_000)


def test_a_new_key_is_long_random_and_only_its_hash_is_kept() -> None:
    key, token = new_key("studio", "", LIMITS, 1000.0)
    prefix, key_id, secret = token.split("_", 2)
    assert (prefix, key_id) == ("nrk", key.key_id)
    assert len(secret) == 43  # 256 bits
    assert key.tenant == "studio"  # the name, unless a tenant is given
    assert secret not in repr(key)
    assert secret not in key.secret_hash
    assert parse_token(token) == (key_id, secret)
    assert matches(key, secret)
    assert not matches(key, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    other, other_token = new_key("studio", "", LIMITS, 1000.0)
    assert other_token != token
    assert other.key_id != key.key_id


@pytest.mark.parametrize(
    "token",
    ["", "nrk", "nrk_", "abc_0123456789ab_" + "A" * 43, "nrk_0123456789AB_" + "A" * 43,
     "nrk_0123456789ab_" + "A" * 42, "nrk_0123456789ab_" + "A" * 42 + "=", "nrk_0123456789ab"],
)  # fmt: skip
def test_malformed_tokens_are_not_parsed(token: str) -> None:
    assert parse_token(token) is None


def test_names_tenants_and_limits_are_checked() -> None:
    with pytest.raises(InvalidArgument) as caught:
        new_key("has space", "x" * 65, KeyLimits(tokens_per_minute=-1), 0.0)
    assert [v.field for v in caught.value.violations] == ["name", "tenant", "tokens_per_minute"]
    with pytest.raises(InvalidArgument) as caught:
        new_key("-dash-first", "", KeyLimits(), 0.0)
    assert [v.field for v in caught.value.violations] == ["name"]  # not the tenant too


@pytest.mark.parametrize(
    ("metadata", "token"),
    [
        ((("authorization", "Bearer abc"),), "abc"),
        ((("authorization", "bearer   abc  "),), "abc"),
        ((("authorization", "Basic abc"),), ""),
        ((("authorization", "Bearer " + "a" * 300),), ""),
        ((("x-other", "Bearer abc"),), ""),
        ((), ""),
    ],
)
def test_bearer_token(metadata: tuple[tuple[str, str], ...], token: str) -> None:
    assert bearer_token(metadata) == token


async def test_the_ring_authenticates_known_active_keys_only() -> None:
    store = MemoryKeyStore()
    ring = KeyRing(store)
    await ring.refresh()
    assert ring.empty
    key, token = new_key("backend", "studio", LIMITS, 1.0)
    await store.create_key(key)
    assert ring.authenticate(token) is None  # not refreshed yet
    assert await ring.refresh()
    assert not ring.empty
    assert ring.authenticate(token, "alice") == Caller("studio", key.key_id, "alice", LIMITS)
    assert ring.authenticate(token[:-1] + "x") is None
    assert ring.authenticate("nrk_0123456789ab_" + "A" * 43) is None
    await store.revoke_key("backend", 2.0)
    await ring.refresh()
    assert ring.authenticate(token) is None
    assert not ring.empty  # a revoked key still counts: auto mode stays required


async def test_the_ring_reloads_only_when_the_revision_moved() -> None:
    store = MemoryKeyStore()
    listed = 0
    original = store.list_keys

    async def counting() -> list:  # type: ignore[type-arg]
        nonlocal listed
        listed += 1
        return await original()

    store.list_keys = counting  # type: ignore[method-assign]
    ring = KeyRing(store)
    for _ in range(5):
        await ring.refresh()
    assert listed == 1
    await store.create_key(new_key("a", "", LIMITS, 1.0)[0])
    assert await ring.refresh()
    assert not await ring.refresh()
    assert listed == 2


async def test_usage_is_flushed_in_one_batch_per_day_and_kept_when_the_store_fails() -> None:
    store = MemoryKeyStore()
    key, _ = new_key("a", "", LIMITS, 1.0)
    await store.create_key(key)
    now = [86_400.0 * 10 + 5]
    book = UsageBook(lambda: now[0])
    book.request(key.key_id)
    book.tokens(key.key_id, Usage(100, 20))
    book.used(key.key_id)
    book.request("")  # the open mode is not counted
    now[0] += 86_400  # the next day
    book.request(key.key_id)
    calls = 0
    original = store.add_key_usage

    async def failing(*args: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise StoreUnavailable("disk full")
        await original(*args)  # type: ignore[arg-type]

    store.add_key_usage = failing  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await book.flush(store)
    assert await store.key_usage("1970-01-11") == {key.key_id: KeyUsage(1, 100, 20)}
    assert book.pending
    await book.flush(store)
    assert await store.key_usage("1970-01-12") == {key.key_id: KeyUsage(1, 0, 0)}
    assert await store.key_usage("1970-01-11") == {key.key_id: KeyUsage(1, 100, 20)}
    assert not book.pending
    assert (await store.list_keys())[0].last_used_at == 86_400.0 * 10 + 5
    assert book.totals[key.key_id] == KeyUsage(2, 100, 20)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
     ("narrator.internal", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("auth", "host", "has_key", "mode"),
    [
        ("auto", "127.0.0.1", False, AuthMode.UNTIL_FIRST_KEY),
        ("auto", "127.0.0.1", True, AuthMode.UNTIL_FIRST_KEY),  # required while a key exists
        ("auto", "0.0.0.0", True, AuthMode.REQUIRED),
        ("auto", "0.0.0.0", False, None),  # refuses to start
        ("required", "127.0.0.1", False, AuthMode.REQUIRED),
        ("required", "0.0.0.0", False, AuthMode.REQUIRED),
        ("off", "0.0.0.0", True, AuthMode.OPEN),
    ],
)
async def test_auth_mode(auth: str, host: str, has_key: bool, mode: AuthMode | None) -> None:
    store = MemoryKeyStore()
    if has_key:
        await store.create_key(new_key("a", "", LIMITS, 1.0)[0])
    ring = KeyRing(store)
    await ring.refresh()
    settings = Settings(host=host, auth=auth)  # type: ignore[arg-type]
    if mode is None:
        with pytest.raises(AccessError, match="NARRATOR_AUTH=off"):
            auth_mode(settings, ring)
    else:
        assert auth_mode(settings, ring) is mode
