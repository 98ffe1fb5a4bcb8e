"""A private PostgreSQL for the test run, and a fresh database for each test that asks."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from narrator_server.testing import postgres

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    """One server for the whole run (fsync off: the data is thrown away)."""
    server = postgres.start(fast=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: postgres.PostgresServer) -> Iterator[str]:
    """The URL of an empty database of this test's own, dropped after it."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def own_postgres() -> Iterator[postgres.PostgresServer]:
    """A server of this test's own, which the test may `halt` and `restart` (an outage)."""
    server = postgres.start(fast=True)
    try:
        yield server
    finally:
        server.stop()
