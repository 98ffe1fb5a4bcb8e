"""API keys: every store adapter keeps them the same way (the `KeyStore` port)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import InvalidArgument
from narrator_server.core.keys import KeyUsage, new_key
from narrator_server.core.models import KeyLimits

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from narrator_server.core.keys import KeyStore
    from narrator_server.core.storage import SessionStore

LIMITS = KeyLimits(1, 2, 3, 4)


@pytest.fixture
def keys(store: SessionStore) -> KeyStore:
    return store.keys  # type: ignore[attr-defined, no-any-return]


async def test_create_list_revoke(keys: KeyStore) -> None:
    first, _ = new_key("backend", "studio", LIMITS, 10.0)
    second, _ = new_key("tools", "", KeyLimits(), 20.0)
    before = await keys.key_revision()
    await keys.create_key(first)
    await keys.create_key(second)
    assert await keys.key_revision() != before
    assert await keys.list_keys() == [first, second]

    revision = await keys.key_revision()
    revoked = await keys.revoke_key("backend", 30.0)  # by name
    assert revoked is not None
    assert revoked.revoked_at == 30.0
    assert await keys.key_revision() != revision
    revision = await keys.key_revision()
    again = await keys.revoke_key(first.key_id, 40.0)  # by id: already revoked, unchanged
    assert again is not None
    assert again.revoked_at == 30.0
    assert await keys.key_revision() == revision
    assert await keys.revoke_key("nobody", 50.0) is None
    listed = {k.key_id: k for k in await keys.list_keys()}
    assert listed[first.key_id].revoked_at == 30.0
    assert listed[second.key_id].revoked_at is None


async def test_an_active_name_is_unique_and_free_again_once_revoked(keys: KeyStore) -> None:
    first, _ = new_key("backend", "", LIMITS, 10.0)
    await keys.create_key(first)
    with pytest.raises(InvalidArgument):
        await keys.create_key(new_key("backend", "", LIMITS, 11.0)[0])
    await keys.revoke_key("backend", 12.0)
    replacement, _ = new_key("backend", "", LIMITS, 13.0)
    await keys.create_key(replacement)
    revoked = await keys.revoke_key("backend", 14.0)  # the active one
    assert revoked is not None
    assert revoked.key_id == replacement.key_id
    newest = await keys.revoke_key("backend", 15.0)  # none active: the newest revoked one
    assert newest is not None
    assert (newest.key_id, newest.revoked_at) == (replacement.key_id, 14.0)


async def test_usage_adds_up_per_day_and_moves_last_use_forward(keys: KeyStore) -> None:
    key, _ = new_key("backend", "", LIMITS, 10.0)
    await keys.create_key(key)
    await keys.add_key_usage("2026-03-14", {key.key_id: KeyUsage(2, 100, 10)}, {key.key_id: 50.0})
    await keys.add_key_usage("2026-03-14", {key.key_id: KeyUsage(1, 5, 5)}, {key.key_id: 40.0})
    await keys.add_key_usage("2026-03-15", {key.key_id: KeyUsage(7, 0, 0)}, {})
    await keys.add_key_usage("2026-03-15", {"unknown": KeyUsage(1, 1, 1)}, {"unknown": 1.0})
    assert await keys.key_usage("2026-03-14") == {key.key_id: KeyUsage(3, 105, 15)}
    assert await keys.key_usage("2026-03-15") == {key.key_id: KeyUsage(7, 0, 0)}
    assert await keys.key_usage("2026-03-16") == {}
    assert (await keys.list_keys())[0].last_used_at == 50.0


async def test_another_server_on_the_same_database_sees_the_keys(
    reopen: Callable[[], Awaitable[SessionStore]],
) -> None:
    server, cli = await reopen(), await reopen()
    try:
        revision = await server.keys.key_revision()  # type: ignore[attr-defined]
        key, _ = new_key("backend", "", LIMITS, 10.0)
        await cli.keys.create_key(key)  # type: ignore[attr-defined]
        assert await server.keys.key_revision() != revision  # type: ignore[attr-defined]
        assert await server.keys.list_keys() == [key]  # type: ignore[attr-defined]
    finally:
        await server.close()
        await cli.close()
