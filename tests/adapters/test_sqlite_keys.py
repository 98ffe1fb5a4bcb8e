"""API keys in the SQLite store: a data dir of the previous release gains the key tables."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from narrator_server.core.keys import new_key
from narrator_server.core.models import KeyLimits
from narrator_server.store import sqlite_schema
from narrator_server.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


LIMITS = KeyLimits(1, 2, 3, 4)


async def test_a_data_dir_of_the_previous_release_gains_the_key_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "narrator.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as previous:
        previous.setattr(sqlite_schema, "MIGRATIONS", {2: sqlite_schema.MIGRATIONS[2]})
        previous.setattr(sqlite_schema, "VERSION", 2)
        sqlite_schema.migrate(db)
    db.execute(
        "INSERT INTO sessions (id, world, tone, player_name, player_description, seed,"
        " created_at, tenant) VALUES ('s1', 'w', '', 'Ash', '', 1, 1.0, 'studio')"
    )
    db.close()
    store = await SqliteStore.open(path)
    try:
        session = await store.get_session("s1", 0)
        assert session is not None
        assert session.tenant == "studio"
        assert await store.keys.list_keys() == []
        await store.keys.create_key(new_key("studio", "", LIMITS, 1.0)[0])
    finally:
        await store.close()
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == sqlite_schema.VERSION >= 3
