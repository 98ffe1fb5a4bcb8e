from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The store of the server under test: "" for SQLite in its data dir (the embedded
    default), or a fresh PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        return ""
    return str(request.getfixturevalue("postgres_url"))
