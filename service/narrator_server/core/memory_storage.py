"""The memory storage port: lore, summaries and recorded prompt contexts of sessions.

Adapters implement it next to `SessionStore` (the same database: a session's memory goes when
the session is deleted). Like the session store they never block the event loop and raise
`StoreUnavailable` for any storage fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .storage import SessionStore

if TYPE_CHECKING:
    from .keys import KeyStore
    from .memory_models import LoreEntry, Recollection, SavedSession, Section, Summary
    from .models import Turn


class LoreFull(Exception):
    """The session already holds its maximum number of lore entries."""


class MemoryStorage(Protocol):
    """Durable memory of sessions. Every call names its session; none reads another's."""

    async def recall(
        self, session_id: str, turn_limit: int, lore_revision: int
    ) -> Recollection | None:
        """In one read: the session, up to `turn_limit` completed, current turns (newest
        first), the latest summary, the lore revision, and the lore entries unless
        `lore_revision` is current. None when the session does not exist."""

    async def put_lore(
        self, session_id: str, entry: LoreEntry, *, new: bool, max_entries: int
    ) -> LoreEntry | None:
        """Adds the entry (`new`) or replaces the stored one with its id, and bumps the
        session's lore revision. Returns the entry; None when the session (or, to replace,
        the entry) does not exist; raises `LoreFull` when a new entry would pass
        `max_entries`."""

    async def list_lore(self, session_id: str) -> list[LoreEntry] | None:
        """Every entry, by priority (highest first), then most recently updated; None when
        the session does not exist."""

    async def delete_lore(self, session_id: str, entry_id: str) -> bool:
        """Deletes an entry (bumping the revision); False when there was none."""

    async def turns_between(
        self, session_id: str, after: float, before: float, limit: int
    ) -> list[Turn]:
        """Completed, current turns that started after `after` and before `before`, oldest
        first, at most `limit` (as the memory reads turns: their delta lengths may be left
        out, see `Recollection`)."""

    async def save_summary(self, session_id: str, summary: Summary, keep: int) -> None:
        """Stores a new summary (keeping the newest `keep`); nothing when the session is gone.
        A summary is folded from stored turns: a store may commit it without waiting for the
        disk (one lost to a power cut is folded again)."""

    async def save_context(
        self, session_id: str, turn_id: str, sections: tuple[Section, ...], keep: int
    ) -> None:
        """Records the prompt a turn's request held (the first record of a turn wins), keeping
        those of the session's newest `keep` turns: older ones may stay until a later write
        prunes them, at most `keep // 16` more (per server)."""

    async def turn_context(self, session_id: str, turn_id: str) -> tuple[Section, ...] | None:
        """The recorded prompt of a turn, or None."""

    async def export_session(self, session_id: str) -> SavedSession | None:
        """The whole session in one consistent read, or None."""

    async def import_session(self, saved: SavedSession) -> None:
        """Creates the session with its turns, lore and summaries in one transaction."""


class CampaignStore(SessionStore, MemoryStorage, Protocol):
    """A store of sessions, turns and their memory, and the API keys beside them (every
    adapter of a deployment)."""

    @property
    def keys(self) -> KeyStore:
        """The API keys kept in the same storage."""
