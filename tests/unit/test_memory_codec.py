"""Recorded contexts' codec: each history row is written once per section, the blob is the
same JSON as one `json.dumps` of every row, and when a session's older contexts are pruned."""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING

from narrator_server.core.memory_models import Section, SectionKind
from narrator_server.store import memory_codec
from narrator_server.store.memory_codec import Pruning, read_context, sections_blob

if TYPE_CHECKING:
    import pytest


def _sections(history: tuple[Section, ...]) -> tuple[Section, ...]:
    return (
        Section(SectionKind.SYSTEM, "system", 'You are the DM ✨ "quoted"', 9),
        *history,
        Section(SectionKind.LORE, "lore: gate", "The gate is old.", 5, "e1", "gate"),
        Section(SectionKind.INPUT, "action", "I knock", 3),
    )


def _history() -> tuple[Section, ...]:
    """New section objects (the codec's memo knows them by identity)."""
    return tuple(
        Section(
            SectionKind.HISTORY,
            f"turn t{i}",
            f"Player: knock {i}\nNarrator: é {i}",
            7,
            turn_id=f"t{i}",
        )
        for i in range(5)
    )


HISTORY = _history()


def test_the_blob_is_one_json_array_of_every_row() -> None:
    sections = _sections(HISTORY)
    rows = [
        [s.kind.value, s.title,
         [len(s.text), zlib.crc32(s.text.encode())] if s.turn_id else s.text,
         s.tokens, s.lore_entry_id, s.matched_key, s.turn_id]
        for s in sections
    ]  # fmt: skip
    whole = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    assert zlib.decompress(sections_blob(sections)).decode() == whole
    assert read_context(sections_blob(sections)).turn_ids == tuple(s.turn_id for s in HISTORY)


def test_a_history_row_is_written_once_per_section(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = memory_codec._check

    def counting(text: str) -> list[int]:
        checked.append(text)
        return real(text)

    monkeypatch.setattr(memory_codec, "_check", counting)
    history = _history()
    first = sections_blob(_sections(history))
    assert checked == [s.text for s in history]
    # The next turn's prompt: the same history objects, one turn more.
    newer = Section(SectionKind.HISTORY, "turn t5", "Player: wait\nNarrator: ok", 4, turn_id="t5")
    second = sections_blob(_sections((*history[1:], newer)))
    assert checked[len(history) :] == [newer.text]
    assert read_context(second).turn_ids == (*(s.turn_id for s in history[1:]), "t5")
    assert first != second
    # An equal section that is another object is written again, and the same.
    copy = Section(SectionKind.HISTORY, "turn t1", history[1].text, 7, turn_id="t1")
    assert sections_blob((copy,)) == sections_blob((history[1],))
    assert checked[-1] is copy.text


def test_pruning_is_due_at_the_first_write_then_every_keep_16th_plus_one() -> None:
    pruning = Pruning()
    due = [pruning.due("s1", 200) for _ in range(30)]
    assert [i for i, d in enumerate(due) if d] == [0, 13, 26]
    assert all(pruning.due("s2", 15) for _ in range(5))  # under 16 kept: every write
    assert [pruning.due("s3", 32) for _ in range(4)] == [True, False, False, True]


def test_pruning_forgets_the_least_recent_sessions_first() -> None:
    pruning = Pruning(max_sessions=2)
    for sid in ("a", "b"):
        assert pruning.due(sid, 200)
    assert not pruning.due("a", 200)  # a is now the most recent
    assert pruning.due("c", 200)  # b goes
    assert not pruning.due("a", 200)
    assert pruning.due("b", 200)  # seen again: a first write


def test_the_blob_is_packed_with_a_small_window_and_any_blob_reads_back() -> None:
    # A zlib stream's first byte holds its window: 0x48 is 2**12 bytes (the default, 2**15,
    # is 0x78), whose state is set up ten times faster for every turn's context.
    long_text = " ".join(f"word{i}" for i in range(4000))  # ~35 KB: far past the window
    sections = (*_sections(HISTORY), Section(SectionKind.SCENE, "scene", long_text, 9))
    blob = sections_blob(sections)
    assert blob[0] == 0x48
    whole = zlib.decompress(blob)
    assert len(blob) < len(whole) // 3
    # A context written by an earlier release, with the default window, reads the same.
    older = zlib.compress(whole, 1)
    assert older[0] == 0x78
    assert read_context(older) == read_context(blob)
    assert read_context(blob).rows[-1][2] == long_text
