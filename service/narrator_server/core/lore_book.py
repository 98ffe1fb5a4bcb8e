"""Use cases of the lore book and the context viewer: per session, for the session's tenant."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import time
import uuid
from typing import TYPE_CHECKING

from .errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    LoreEntryNotFound,
    SessionNotFound,
    TurnNotFound,
)
from .lore import check_entry
from .memory import TurnInput
from .memory_models import TurnContextView
from .memory_storage import LoreFull
from .models import Scene, TurnKind
from .validation import check_turn_id

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .memory import CampaignMemory
    from .memory_models import LoreEntry
    from .memory_storage import CampaignStore
    from .models import Caller, Session

    Owned = Callable[[Caller, str], Awaitable[Session]]

DEFAULT_PAGE = 100
MAX_PAGE = 500


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"lore:{offset}".encode()).decode()


def _offset(token: str, limit: int) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()[:64]).decode()
        prefix, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeError, ValueError):
        offset, prefix = -1, ""
    if prefix != "lore" or not 0 <= offset <= limit:
        raise InvalidArgument([FieldViolation("page_token", "is not a token this server gave")])
    return offset


class LoreBook:
    """PutLoreEntry, ListLoreEntries, DeleteLoreEntry and GetTurnContext."""

    def __init__(self, owned: Owned, store: CampaignStore, memory: CampaignMemory) -> None:
        self._owned = owned
        self._store = store
        self._memory = memory

    async def put(self, caller: Caller, session_id: str, entry: LoreEntry) -> LoreEntry:
        limits = self._memory.config.lore
        if violations := check_entry(entry, limits):
            raise InvalidArgument(violations)
        await self._owned(caller, session_id)
        new = not entry.entry_id
        stored = dataclasses.replace(
            entry,
            entry_id=entry.entry_id or uuid.uuid4().hex,
            keys=tuple(k.strip() for k in entry.keys),
            updated_at=time.time(),
        )
        try:
            result = await self._store.put_lore(
                session_id, stored, new=new, max_entries=limits.max_entries
            )
        except LoreFull:
            raise FailedPrecondition(
                f"the session's lore book is full ({limits.max_entries} entries): delete or "
                "replace an entry"
            ) from None
        finally:
            self._memory.lore_changed(session_id)
        if result is None:
            raise LoreEntryNotFound(entry.entry_id)
        return result

    async def list(
        self, caller: Caller, session_id: str, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[LoreEntry], str]:
        limit = self._memory.config.lore.max_entries
        offset = _offset(page_token, limit)
        await self._owned(caller, session_id)
        entries = await self._store.list_lore(session_id)
        if entries is None:
            raise SessionNotFound(session_id)
        size = min(page_size or DEFAULT_PAGE, MAX_PAGE)
        page = entries[offset : offset + size]
        more = offset + size < len(entries)
        return page, _page_token(offset + size) if more else ""

    async def delete(self, caller: Caller, session_id: str, entry_id: str) -> None:
        if not entry_id:
            raise InvalidArgument([FieldViolation("entry_id", "must not be empty")])
        await self._owned(caller, session_id)
        try:
            if not await self._store.delete_lore(session_id, entry_id[:64]):
                raise LoreEntryNotFound(entry_id[:64])
        finally:
            self._memory.lore_changed(session_id)

    async def context(self, caller: Caller, session_id: str, turn_id: str) -> TurnContextView:
        """The sections a turn's request held; for an empty `turn_id` the next turn's (with an
        empty action and scene)."""
        if violations := check_turn_id(turn_id):
            raise InvalidArgument(violations)
        session = await self._owned(caller, session_id)
        budget = self._memory.config.budgets.prompt
        if not turn_id:
            asked = TurnInput(TurnKind.NARRATION, "", Scene())
            assembled = await self._memory.recall(session, asked, "", preview=True)
            return TurnContextView("", assembled.sections, budget)
        sections = await self._memory.context(session_id, turn_id)
        if sections is None:
            if await self._store.get_turn(session_id, turn_id) is None:
                raise TurnNotFound(turn_id)
            raise FailedPrecondition(
                f"turn {turn_id!r} has no recorded context (it was imported, is older than the "
                "contexts the server keeps, or runs on another server)"
            )
        return TurnContextView(turn_id, sections, budget)
