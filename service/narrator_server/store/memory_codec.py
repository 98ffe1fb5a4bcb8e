"""Rows of lore entries, summaries and recorded prompt contexts: one codec for SQL adapters.

A recorded context is zlib-compressed JSON (a prompt repeats much of the previous one's text).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from ..core.memory_models import LoreEntry, Section, SectionKind, Summary, SummarySource

LORE_COLUMNS = "id, keys, content, priority, always_on, updated_at"
SUMMARY_COLUMNS = "text, first_turn_id, last_turn_id, through, turn_count, source, created_at"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def lore_row(entry: LoreEntry) -> tuple[Any, ...]:
    e = entry
    return (e.entry_id, _dumps(list(e.keys)), e.content, e.priority, int(e.always_on), e.updated_at)


def lore_from_row(r: tuple[Any, ...]) -> LoreEntry:
    return LoreEntry(
        entry_id=r[0],
        keys=tuple(json.loads(r[1])),
        content=r[2],
        priority=int(r[3]),
        always_on=bool(r[4]),
        updated_at=float(r[5]),
    )


def summary_row(s: Summary) -> tuple[Any, ...]:
    return (
        s.text, s.first_turn_id, s.last_turn_id, s.through, s.turn_count, s.source.value,
        s.created_at,
    )  # fmt: skip


def summary_from_row(r: tuple[Any, ...]) -> Summary:
    return Summary(
        text=r[0],
        first_turn_id=r[1],
        last_turn_id=r[2],
        through=float(r[3]),
        turn_count=int(r[4]),
        source=SummarySource(r[5]),
        created_at=float(r[6]),
    )


def sections_blob(sections: tuple[Section, ...]) -> bytes:
    rows = [
        [s.kind.value, s.title, s.text, s.tokens, s.lore_entry_id, s.matched_key, s.turn_id]
        for s in sections
    ]
    # Level 1: a context is written every turn and read only when someone asks for it.
    return zlib.compress(_dumps(rows).encode(), 1)


def sections_from_blob(blob: bytes) -> tuple[Section, ...]:
    rows = json.loads(zlib.decompress(blob).decode())
    return tuple(Section(SectionKind(r[0]), r[1], r[2], int(r[3]), r[4], r[5], r[6]) for r in rows)
