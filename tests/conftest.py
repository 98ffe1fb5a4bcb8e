from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from narrator_server import event_loop
from narrator_server.testing.fake_openai import FakeOpenAI

if TYPE_CHECKING:
    import asyncio
    from collections.abc import AsyncIterator, Callable

# Private engines (each run starts its own): `postgres_server`, `postgres_url`,
# `own_postgres`, `redis_instance`, `redis_url`.
pytest_plugins = ["tests.engines.postgres", "tests.engines.redis"]


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """In-process tests run on the loop the server takes by default (uvloop where installed);
    tests/integration/test_event_loop.py serves on asyncio's own through a real process."""
    return {"loop": event_loop.factory("auto")}
