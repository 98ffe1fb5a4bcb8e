from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from narrator_server.testing.fake_openai import FakeOpenAI

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# Private engines (each run starts its own): `postgres_server`, `postgres_url`,
# `own_postgres`, `redis_instance`, `redis_url`.
pytest_plugins = ["tests.engines.postgres", "tests.engines.redis"]


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake
