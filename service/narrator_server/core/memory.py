"""The memory port and the campaign memory behind it.

Before a turn, `recall` reads the session's memory in one store call (recent turns, latest
summary, lore revision, and the lore itself only when it changed) and assembles the prompt's
sections within the budgets. The sections the request held (the context viewer shows them) are
stored with the ended turn (`turn_record`, in the same write); `record` then asks the
summarizer, when turns have left the history window, to fold them into the summary in the
background.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .assembly import MIN_SUMMARY_TOKENS, Assembled, Budgets, assemble
from .errors import SessionNotFound, StoreUnavailable
from .lore import LoreLimits, MatcherCache
from .memory_models import TurnRecord
from .models import TurnStatus
from .summaries import Summarizer, SummaryConfig

if TYPE_CHECKING:
    from .memory_models import Recollection, Section, Summary
    from .memory_storage import MemoryStorage
    from .models import DecisionOption, Scene, Session, Turn, TurnKind
    from .ports import ChatProvider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnInput:
    """What a turn asks, as the memory needs it."""

    kind: TurnKind
    text: str
    scene: Scene
    options: tuple[DecisionOption, ...] = ()
    replaces_turn_id: str = ""


class Memory(Protocol):
    """What the narrator remembers of a campaign, as prompt sections."""

    async def recall(
        self,
        session: Session,
        turn: TurnInput,
        turn_id: str,
        *,
        preview: bool = False,
        found: Recollection | None = None,
    ) -> Assembled:
        """The sections of the turn's prompt (raises SessionNotFound, InvalidArgument when
        the mandatory part is over budget). A `preview` records nothing. `found`: what
        `read` gave for this turn just before (else the memory reads it now)."""

    async def read(self, session_id: str) -> Recollection | None:
        """The session and what its next turn recalls, in one store read (None: no such
        session): a turn checks the session's owner and plans from the same read."""

    def turn_record(self, turn: Turn) -> TurnRecord | None:
        """What the ended turn's request held, to store with the turn (None: nothing was
        recalled for it here)."""

    async def record(self, turn: Turn, *, recorded: bool = False) -> None:
        """The turn ended and was stored: keep what its request held (unless `recorded`
        with the turn already), and let the memory catch up (summaries). Never raises."""

    async def context(self, session_id: str, turn_id: str) -> tuple[Section, ...] | None:
        """The sections a turn's request held: recorded, or still running here."""


@dataclass(frozen=True)
class MemoryConfig:
    budgets: Budgets = field(default_factory=Budgets)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    lore: LoreLimits = field(default_factory=LoreLimits)
    # Turns out of the history window (and not yet summarized) before a fold is asked for.
    fold_after: int = 4
    # Recorded contexts kept per session (its newest turns').
    contexts_kept: int = 200
    # Turns planned but not yet recorded, remembered at most (a turn that never started).
    pending_max: int = 4096


@dataclass(frozen=True)
class _Pending:
    sections: tuple[Section, ...]
    session: Session
    summary: Summary | None
    fold_before: float | None


class CampaignMemory:
    """`Memory` over a `MemoryStorage`, with one cached lore matcher per session."""

    def __init__(
        self,
        storage: MemoryStorage,
        provider: ChatProvider | None = None,
        config: MemoryConfig | None = None,
    ) -> None:
        self._storage = storage
        self.config = c = config or MemoryConfig()
        self.matchers = MatcherCache()
        self.summarizer = Summarizer(provider, storage, c.summary)
        self._pending: OrderedDict[tuple[str, str], _Pending] = OrderedDict()

    async def read(self, session_id: str) -> Recollection | None:
        # A few turns more than the window can hold: those that left it, to fold them.
        limit = self.config.budgets.history_max_turns + self.config.fold_after
        return await self._storage.recall(session_id, limit, self.matchers.revision(session_id))

    async def recall(
        self,
        session: Session,
        turn: TurnInput,
        turn_id: str,
        *,
        preview: bool = False,
        found: Recollection | None = None,
    ) -> Assembled:
        sid, b = session.session_id, self.config.budgets
        if found is None:
            found = await self.read(sid)
        matcher = None
        if found is not None:
            matcher = self.matchers.get(sid, found.lore_revision, found.lore)
            if matcher is None:  # dropped from the cache meanwhile: read the lore again
                limit = b.history_max_turns + self.config.fold_after
                found = await self._storage.recall(sid, limit, -1)
                if found is not None:
                    matcher = self.matchers.get(sid, found.lore_revision, found.lore)
        if found is None or matcher is None:
            raise SessionNotFound(sid)
        skip = (turn_id, turn.replaces_turn_id)
        recent = [t for t in found.turns if t.turn_id not in skip]
        assembled = assemble(
            session, turn.kind, turn.text, turn.scene, turn.options, recent, found.summary,
            matcher, b,
        )  # fmt: skip
        if not preview:
            fold = None  # a summary budget that holds no text: no summaries to write
            if b.summary >= MIN_SUMMARY_TOKENS:
                fold = self._fold_due(recent, assembled.window, found.summary)
            self._pending[(sid, turn_id)] = _Pending(
                assembled.sections, session, found.summary, fold
            )
            while len(self._pending) > self.config.pending_max:
                self._pending.popitem(last=False)
        return assembled

    def _fold_due(
        self, recent: list[Turn], window: tuple[Turn, ...], summary: Summary | None
    ) -> float | None:
        """The start of the history window, when enough turns older than it (and newer than
        the summary) wait to be folded into the summary."""
        if not recent:
            return None
        covered = summary.through if summary else float("-inf")
        before = window[0].created_at if window else recent[0].created_at + 1e-6
        waiting = sum(1 for t in recent if covered < t.created_at < before)
        return before if waiting >= self.config.fold_after else None

    def turn_record(self, turn: Turn) -> TurnRecord | None:
        pending = self._pending.get((turn.session_id, turn.turn_id))
        return TurnRecord(pending.sections, self.config.contexts_kept) if pending else None

    async def record(self, turn: Turn, *, recorded: bool = False) -> None:
        pending = self._pending.pop((turn.session_id, turn.turn_id), None)
        if pending is None:
            return
        if not recorded:
            try:
                await self._storage.save_context(
                    turn.session_id, turn.turn_id, pending.sections, self.config.contexts_kept
                )
            except StoreUnavailable:
                log.warning(
                    "a turn's context could not be recorded",
                    extra={"session_id": turn.session_id, "turn_id": turn.turn_id},
                )
        if turn.status is TurnStatus.COMPLETED and pending.fold_before is not None:
            self.summarizer.request(pending.session, pending.summary, pending.fold_before)

    async def context(self, session_id: str, turn_id: str) -> tuple[Section, ...] | None:
        recorded = await self._storage.turn_context(session_id, turn_id)
        if recorded is not None:
            return recorded
        pending = self._pending.get((session_id, turn_id))  # still running here
        return pending.sections if pending is not None else None

    def lore_changed(self, session_id: str) -> None:
        """A lore write on this server: the next recall reads the lore again."""
        self.matchers.forget(session_id)

    async def drain(self, timeout: float) -> None:
        await self.summarizer.drain(timeout)
