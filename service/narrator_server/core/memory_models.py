"""Domain data of a campaign's memory: lore entries, summaries and the sections of a prompt."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Session, Turn


@dataclass(frozen=True)
class LoreEntry:
    """A piece of the world the narrator should know when it matters ("world info")."""

    entry_id: str
    keys: tuple[str, ...]
    content: str
    priority: int = 0
    always_on: bool = False
    updated_at: float = 0.0


class SummarySource(enum.Enum):
    MODEL = "model"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Summary:
    """The campaign so far, up to and including `last_turn_id` (every current completed turn
    that started at or before `through`, the wall-clock time of that turn)."""

    text: str
    first_turn_id: str
    last_turn_id: str
    through: float
    turn_count: int
    source: SummarySource
    created_at: float


class SectionKind(enum.Enum):
    SYSTEM = "system"
    CAMPAIGN = "campaign"
    SUMMARY = "summary"
    LORE = "lore"
    HISTORY = "history"
    SCENE = "scene"
    INPUT = "input"


@dataclass(frozen=True)
class Section:
    """One part of a turn's prompt, as the model read it."""

    kind: SectionKind
    title: str
    text: str
    tokens: int
    lore_entry_id: str = ""
    matched_key: str = ""
    turn_id: str = ""


@dataclass(frozen=True)
class TurnRecord:
    """What a turn's request held, to record with the ended turn (`SessionStore.save_turn`):
    its sections, kept for the session's newest `keep` turns."""

    sections: tuple[Section, ...]
    keep: int


@dataclass(frozen=True)
class TurnContextView:
    """The sections a turn's request held (or the next turn's, for a preview)."""

    turn_id: str
    sections: tuple[Section, ...]
    budget_tokens: int

    @property
    def total_tokens(self) -> int:
        return sum(s.tokens for s in self.sections)


@dataclass(frozen=True)
class Recollection:
    """What the store gives a turn's planning in one read.

    `lore` is None when the caller's `lore_revision` is still current (its cached matcher is
    good); `turns` are completed, current turns, newest first, as a prompt reads them (their
    `delta_lengths` may be left out: those are a replay's); `session` is the session itself
    (its `turn_count` set, no `recent_turns`), so the same read checks who owns it."""

    turns: tuple[Turn, ...]
    summary: Summary | None
    lore_revision: int
    lore: tuple[LoreEntry, ...] | None
    session: Session


@dataclass(frozen=True)
class SavedSession:
    """Everything a save game holds: the session, every turn (oldest first), lore, summaries."""

    session: Session
    turns: tuple[Turn, ...]
    lore: tuple[LoreEntry, ...]
    summaries: tuple[Summary, ...]
