"""Opens the store the settings ask for: PostgreSQL with NARRATOR_DATABASE_URL, else SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import StoreUnavailable
from .sqlite import DB_FILE, SqliteStore

if TYPE_CHECKING:
    from ..core.memory_storage import CampaignStore
    from ..settings import Settings


class StoreOpenError(Exception):
    """The store cannot be opened; the message says what, where and what to do (one line)."""


async def open_store(settings: Settings, *, server: bool) -> CampaignStore:
    """The deployment's store. `server`: the serving process (it locks a SQLite data dir
    against a second server; tools such as `narrator keys` open it alongside)."""
    s = settings
    if s.database_url:
        # Imported only when used: the driver costs ~10 MB of memory to every server.
        from .postgres import PostgresStore, describe

        try:
            return await PostgresStore.open(
                s.database_url, pool_size=s.database_pool, timeout=s.database_timeout_s
            )
        except StoreUnavailable as error:
            raise StoreOpenError(
                f"cannot use the PostgreSQL database {describe(s.database_url)}: {error}; "
                "check NARRATOR_DATABASE_URL and that the database is up"
            ) from None
    path = (s.data_dir / DB_FILE).absolute()
    try:
        return await SqliteStore.open(path, server=server)
    except StoreUnavailable as error:  # says what is wrong and what to do
        raise StoreOpenError(f"cannot open the database {path}: {error}") from None
