"""Rows of lore entries, summaries and recorded prompt contexts: one codec for SQL adapters.

A recorded context is zlib-compressed JSON, one row per section. A history section's text is
its stored turn's, as the prompt renders it (`prompt.history_text`): the row holds the text's
length and CRC-32 instead of the text, and the text is rendered from the turn again when the
context is read (`read_context`, `context_sections`); a turn that no longer renders the same
reads as `UNREADABLE_HISTORY`.
A context then weighs a tenth of the prompt it records, and writing one encodes no history.
Rows written with the text (older releases) are read as they are.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.compact_json import dumps as _dumps
from ..core.identity_memo import IdentityMemo
from ..core.memory_models import LoreEntry, Section, SectionKind, Summary, SummarySource
from ..core.prompt import history_text, history_texts

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..core.models import Turn

LORE_COLUMNS = "id, keys, content, priority, always_on, updated_at"
SUMMARY_COLUMNS = "text, first_turn_id, last_turn_id, through, turn_count, source, created_at"


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


# What a history section reads when its turn is gone or renders differently now.
UNREADABLE_HISTORY = "(this turn is no longer stored as the request read it)"


def _check(text: str) -> list[int]:
    return [len(text), zlib.crc32(text.encode())]


def _row(s: Section) -> str:
    history = s.kind is SectionKind.HISTORY and s.turn_id
    text: Any = _check(s.text) if history else s.text
    return _dumps(
        [s.kind.value, s.title, text, s.tokens, s.lore_entry_id, s.matched_key, s.turn_id]
    )


# A history section is the same object from one turn to the next (`assembly.history_entry`):
# its row is written once, not once per turn. Each entry holds its section; the budget is in
# characters, as the history's own memo counts them.
_history_row = IdentityMemo(_row, lambda s, row: len(s.text) + len(row), 2_000_000)


def sections_blob(sections: tuple[Section, ...]) -> bytes:
    """The sections as a recorded context: zlib-compressed compact JSON, one row each."""
    history = SectionKind.HISTORY
    rows = [_history_row(s) if s.kind is history else _row(s) for s in sections]
    # Level 1: a context is written every turn and read only when someone asks for it. A
    # 4 KiB window with a small hash (about 24 KiB of state): the default state is 256 KiB,
    # set up for every call, which costs twice the compression of a context of ~10 KB.
    # Any window reads back with zlib.decompress.
    packer = zlib.compressobj(1, zlib.DEFLATED, _WINDOW_BITS, _MEM_LEVEL)
    return packer.compress(("[" + ",".join(rows) + "]").encode()) + packer.flush()


_WINDOW_BITS, _MEM_LEVEL = 12, 4


class Pruning:
    """When a session's recorded contexts beyond its newest `keep` are deleted: at its first
    write seen here, then once every `keep // 16 + 1` writes, so that a session holds at most
    `keep // 16` more between two prunes (none more when `keep` < 16). The delete walks the
    session's contexts in the index; every turn writes one. Used from one thread at a time."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self._max = max_sessions
        self._writes: OrderedDict[str, int] = OrderedDict()

    def due(self, session_id: str, keep: int) -> bool:
        """Counts a write of the session's context: True when this one should prune."""
        writes = self._writes.pop(session_id, 0)
        self._writes[session_id] = writes + 1
        if len(self._writes) > self._max:
            self._writes.popitem(last=False)
        return writes % (keep // 16 + 1) == 0


@dataclass(frozen=True)
class StoredContext:
    """A recorded context as read, before its history texts are rendered from `turn_ids`."""

    rows: list[list[Any]]
    turn_ids: tuple[str, ...]


def read_context(blob: bytes) -> StoredContext:
    rows = json.loads(zlib.decompress(blob).decode())
    return StoredContext(rows, tuple(r[6] for r in rows if isinstance(r[2], list)))


def context_sections(context: StoredContext, turns: Mapping[str, Turn]) -> tuple[Section, ...]:
    """The context's sections, each history text rendered from its turn in `turns` (by id)
    and checked against what the request held."""
    sections = []
    for r in context.rows:
        text = r[2]
        if isinstance(text, list):
            turn = turns.get(r[6])
            text = history_text(*history_texts(turn)) if turn is not None else ""
            if turn is None or _check(text) != r[2]:
                text = UNREADABLE_HISTORY
        sections.append(Section(SectionKind(r[0]), r[1], text, int(r[3]), r[4], r[5], r[6]))
    return tuple(sections)
