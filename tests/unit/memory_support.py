"""Builders shared by the memory tests."""

from __future__ import annotations

from narrator_server.core.lore import LoreMatcher
from narrator_server.core.memory_models import LoreEntry
from narrator_server.core.models import (
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    Turn,
    TurnKind,
    TurnStatus,
    Usage,
)

SESSION = Session(
    "s", Setting("WORLDX, a drowned city", "grim"), PlayerCharacter("NAMEX", "DESCX"), 1, 0.0
)


def turn(i: int, text: str = "", action: str = "") -> Turn:
    return Turn(
        f"t{i}", "s", TurnKind.NARRATION, action or f"action {i}", Scene(),
        text or f"narration {i} " * 20, TurnStatus.COMPLETED, "p", "m", Usage(), float(i),
    )  # fmt: skip


def newest_first(n: int) -> list[Turn]:
    return [turn(i) for i in range(n - 1, -1, -1)]


def entry(
    entry_id: str, *keys: str, content: str = "", priority: int = 0, always_on: bool = False,
    at: float = 0.0,
) -> LoreEntry:  # fmt: skip
    return LoreEntry(entry_id, keys, content or f"lore {entry_id}", priority, always_on, at)


def matcher(*entries: LoreEntry) -> LoreMatcher:
    order = sorted(entries, key=lambda e: (-e.priority, -e.updated_at, e.entry_id))
    return LoreMatcher(tuple(order))
