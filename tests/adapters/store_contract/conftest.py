"""`store`: a fresh, empty store of each adapter; `reopen`: the durable ones, reopenable."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from narrator_server.store.memory import MemoryStore
from narrator_server.store.postgres import PostgresStore
from narrator_server.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from narrator_server.core.storage import SessionStore

ADAPTERS = ["memory", "sqlite", "postgres"]
DURABLE = ["sqlite", "postgres"]


def opener(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], Awaitable[SessionStore]]:
    """Opens the adapter `kind` on this test's own storage (the same each call)."""
    if kind == "memory":
        one = MemoryStore()

        async def memory() -> SessionStore:
            return one

        return memory
    if kind == "sqlite":

        async def sqlite() -> SessionStore:
            return await SqliteStore.open(tmp_path / "narrator.sqlite3")

        return sqlite
    url = request.getfixturevalue("postgres_url")

    async def postgres() -> SessionStore:
        return await PostgresStore.open(url, pool_size=8, timeout=5.0)

    return postgres


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    opened = await opener(request.param, request, tmp_path)()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=DURABLE)
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Awaitable[SessionStore]]:
    """Opens the same durable store again (as a restarted or another server would)."""
    return opener(request.param, request, tmp_path)
