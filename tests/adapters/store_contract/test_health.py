"""The store's own health: a write probe, and a closed store that says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import StoreUnavailable

from .builders import session

if TYPE_CHECKING:
    from narrator_server.core.storage import SessionStore


class TestHealth:
    async def test_a_working_store_is_writable_again_and_again(self, store: SessionStore) -> None:
        for _ in range(3):
            await store.check_writable()
        await store.create_session(session())  # the probe leaves sessions alone
        assert await store.get_session("s1", 0) is not None

    async def test_a_closed_store_raises_store_unavailable(self, store: SessionStore) -> None:
        await store.create_session(session())
        await store.close()
        with pytest.raises(StoreUnavailable):
            await store.check_writable()
        with pytest.raises(StoreUnavailable):
            await store.get_session("s1", 0)
