"""The SQLite store on a real file: round trips, cascades, reopening."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import zlib
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.errors import StoreUnavailable
from narrator_server.core.memory_models import (
    Section,
    SectionKind,
    Summary,
    SummarySource,
    TurnRecord,
)
from narrator_server.core.models import (
    Character,
    Decision,
    DecisionSource,
    FinishReason,
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    Turn,
    TurnKind,
    TurnStatus,
    Usage,
)
from narrator_server.core.prompt import history_text, history_texts
from narrator_server.store.codec import TurnRows, turn_from_row, turn_row
from narrator_server.store.sqlite import SqliteStore
from narrator_server.store.sqlite_recent import RecentTurns

from .store_contract.builders import full_turn

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

SESSION = Session("s1", Setting("world", "grim"), PlayerCharacter("Ash", "knight"), 99, 1.5)


def turn(turn_id: str, status: TurnStatus = TurnStatus.COMPLETED, at: float = 2.0) -> Turn:
    return Turn(
        turn_id=turn_id,
        session_id="s1",
        kind=TurnKind.DECISION,
        input="What now?",
        scene=Scene("crypt", (Character("Grub", "goblin", "hostile"),), ("wet",), (("k", "v"),)),
        text="Because.",
        status=status,
        provider="openai",
        model="m",
        usage=Usage(10, 3),
        created_at=at,
        decision=Decision("attack", '{"target":"Ash"}', DecisionSource.REPAIRED),
        finish_reason=FinishReason.LENGTH,
    )


async def test_round_trip_and_reopen(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    await store.create_session(SESSION)
    await store.save_turn(turn("t1"))
    await store.save_turn(turn("t2", TurnStatus.CANCELLED, at=3.0))
    await store.close()

    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    got = await store.get_session("s1", 10)
    assert got is not None
    assert got.turn_count == 2
    assert [t.turn_id for t in got.recent_turns] == ["t1", "t2"]
    assert got.recent_turns[0] == turn("t1")
    assert [t.turn_id for t in await store.recent_completed_turns("s1", 10)] == ["t1"]
    assert (got.setting, got.player, got.seed) == (SESSION.setting, SESSION.player, 99)
    await store.close()


async def test_delete_cascades_and_late_turns_are_dropped(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    await store.create_session(SESSION)
    await store.save_turn(turn("t1"))
    assert await store.delete_session("s1") is True
    assert await store.delete_session("s1") is False
    await store.save_turn(turn("t2"))  # a turn that ends after its session was deleted
    assert await store.get_session("s1", 10) is None
    assert await store.recent_completed_turns("s1", 10) == []
    await store.close()


async def test_wal_mode(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    mode = await store._call(lambda: store.db.execute("PRAGMA journal_mode").fetchone()[0])
    assert mode == "wal"
    await store.close()


async def test_the_whole_uint64_seed_range_round_trips(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    for seed in (1, 2**63 - 1, 2**63, 2**64 - 1):
        session = Session(f"s{seed}", SESSION.setting, SESSION.player, seed, 1.0)
        await store.create_session(session)
        got = await store.get_session(session.session_id, 0)
        assert got is not None
        assert got.seed == seed
    await store.close()


def test_turn_rows_decode_a_row_once_and_a_changed_row_anew() -> None:
    rows = TurnRows(size=2)
    row = turn_row(full_turn("t1"))
    first = rows.decode(row)
    assert first == turn_from_row(row)
    assert rows.decode(tuple(row)) is first
    changed = rows.decode(tuple(v if i != 5 else "another text" for i, v in enumerate(row)))
    assert changed.text == "another text"
    rows.decode(turn_row(full_turn("t2")))
    rows.decode(turn_row(full_turn("t3")))  # past its size, the oldest row is let go
    assert rows.decode(row) is not first
    assert rows.decode(row) == first


def fresh(value: object) -> object:
    return "".join(list(value)) if isinstance(value, str) else value


def test_turn_rows_share_a_scene_and_repeated_values_between_turns() -> None:
    rows = TurnRows(size=64)
    # As a driver returns them: equal values, but a new string object in every row.
    a, b = (tuple(fresh(v) for v in turn_row(full_turn(t))) for t in ("t1", "t2"))
    assert a[4] == b[4]
    assert a[4] is not b[4]
    first, second = rows.decode(a), rows.decode(b)
    assert first.scene is second.scene
    assert first.scene == turn_from_row(a).scene
    assert first.session_id is second.session_id
    assert first.provider is second.provider
    assert first.turn_id != second.turn_id
    assert rows.decode(a) is first  # still found by an equal row
    changed = tuple(v if i != 4 else v.replace("crypt", "cellar") for i, v in enumerate(b))
    assert changed[4] != b[4]
    assert rows.decode(changed).scene == turn_from_row(changed).scene != first.scene


async def test_the_recent_turns_read_sees_every_change_a_completed_turn_can_take(
    tmp_path: Path,
) -> None:
    """The memory's read keeps decoded turns by key: an overwrite, a supersede, a new turn at
    the same time and a deleted session all show in the next read."""
    store = await SqliteStore.open(tmp_path / "narrator.sqlite3")
    try:
        await store.create_session(SESSION)
        for i, at in enumerate((1.0, 2.0, 2.0, 3.0)):  # two turns start at the same time
            await store.save_turn(turn(f"t{i}", at=at))

        async def window() -> list[tuple[str, str]]:
            found = await store.recall("s1", 10, 0)
            assert found is not None
            return [(t.turn_id, t.text) for t in found.turns]

        first = await window()
        assert first == [("t3", "Because."), ("t2", "Because."), ("t1", "Because."),
                         ("t0", "Because.")]  # fmt: skip
        assert await window() == first  # read again: the same, from what was decoded
        # Another producer of t1 stored its own ending over it.
        await store.save_turn(dataclasses.replace(turn("t1", at=2.0), text="Another ending."))
        await store.supersede_turn("s1", "t2")
        assert await window() == [("t3", "Because."), ("t1", "Another ending."),
                                  ("t0", "Because.")]  # fmt: skip
        found = await store.recall("s1", 2, 0)
        assert found is not None
        assert [t.turn_id for t in found.turns] == ["t3", "t1"]
        await store.delete_session("s1")
        assert await store.recall("s1", 10, 0) is None
    finally:
        await store.close()


async def test_the_memory_read_shares_one_scene_among_a_sessions_turns(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "narrator.sqlite3")
    try:
        await store.create_session(SESSION)
        for i in range(3):
            await store.save_turn(turn(f"t{i}", at=float(i)))
        found = await store.recall("s1", 10, 0)
        assert found is not None
        scenes = [t.scene for t in found.turns]
        assert len(scenes) == 3
        assert scenes[0] == turn("t0").scene
        assert scenes[0] is scenes[1] is scenes[2]  # one decoded Scene, not one a turn
        assert found.turns[0].session_id is found.turns[2].session_id
    finally:
        await store.close()


async def test_the_memory_read_leaves_the_delta_lengths_to_replays(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "narrator.sqlite3")
    try:
        await store.create_session(SESSION)
        await store.save_turn(dataclasses.replace(turn("t1"), delta_lengths=(3, 2, 3)))
        found = await store.recall("s1", 10, 0)
        assert found is not None
        assert (found.turns[0].text, found.turns[0].delta_lengths) == ("Because.", ())
        stored = await store.get_turn("s1", "t1")  # what a replay reads has them
        assert stored is not None
        assert stored.delta_lengths == (3, 2, 3)
    finally:
        await store.close()


async def test_the_recent_turns_kept_decoded_fit_a_memory_budget(store: SqliteStore) -> None:
    await store.create_session(SESSION)
    for i in range(3):
        await store.save_turn(dataclasses.replace(turn(f"t{i}", at=i), text="x" * 100))
    decoded: list[str] = []

    def decode(row: tuple[object, ...]) -> Turn:
        decoded.append(str(row[0]))
        return turn_from_row(row)

    def decodes(recent: RecentTurns) -> list[int]:
        counts = []
        for version in (1, 1, 2):  # the same window twice, then a changed one
            decoded.clear()
            assert len(recent.read(store.db, "s1", 10, version, decode)) == 3
            counts.append(len(decoded))
        return counts

    weight = 100 + len("What now?") + 200
    assert decodes(RecentTurns()) == [3, 0, 0]  # kept, and reused when listed again
    assert decodes(RecentTurns(budget=2 * weight)) == [3, 3, 3]  # does not fit: not kept


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "narrator.sqlite3"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(path)
    yield opened
    await opened.close()


async def texts(store: SqliteStore, limit: int = 10) -> list[tuple[str, str]]:
    """The memory's read of session s1: its window's (turn id, text), newest first."""
    found = await store.recall("s1", limit, 0)
    assert found is not None
    return [(t.turn_id, t.text) for t in found.turns]


def elsewhere(path: Path, sql: str) -> None:
    """A write by another connection to the file (the store does not see it happen)."""
    with contextlib.closing(sqlite3.connect(path)) as other, other:
        other.execute(sql)


def _listings(store: SqliteStore) -> list[str]:
    """The statements on the store's connection that list a session's recent turns."""
    seen: list[str] = []
    store.db.set_trace_callback(lambda sql: seen.append(sql) if "json_group_array" in sql else 0)
    return seen


async def test_a_saved_turn_enters_the_kept_window_so_the_next_read_lists_nothing(
    store: SqliteStore,
) -> None:
    await store.create_session(SESSION)
    for i, at in enumerate((1.0, 2.0, 4.0)):
        await store.save_turn(turn(f"t{i}", at=at))
    listings = _listings(store)
    found = await store.recall("s1", 3, 0)
    assert found is not None
    assert len(listings) == 1
    # A new turn, then one that started before the newest (two producers at once), then
    # a failed one (not in the window): each save keeps the window current.
    await store.save_turn(dataclasses.replace(turn("t3", at=5.0), text="Fourth."))
    await store.save_turn(turn("t4", at=3.0))
    await store.save_turn(turn("t5", TurnStatus.FAILED, at=6.0))
    found = await store.recall("s1", 3, 0)
    assert found is not None
    assert [t.turn_id for t in found.turns] == ["t3", "t2", "t4"]
    assert found.turns[0].text == "Fourth."
    assert found.turns[0].delta_lengths == ()  # as the listing reads it
    assert len(listings) == 1  # no second listing
    store._recent = RecentTurns()  # what a read of the file alone gives
    again = await store.recall("s1", 3, 0)
    assert again is not None
    assert again.turns == found.turns
    assert len(listings) == 2


async def test_a_change_the_kept_window_did_not_see_is_read_from_the_file(
    store: SqliteStore, path: Path
) -> None:
    """Written by another connection (the window's version moved on without this store):
    the next read lists the window again and sees the change."""
    await store.create_session(SESSION)
    for i in range(3):
        await store.save_turn(turn(f"t{i}", at=float(i)))
    assert await store.recall("s1", 10, 0) is not None
    listings = _listings(store)
    elsewhere(path, "UPDATE turns SET text = 'Edited.' WHERE id = 't1'")
    assert await texts(store) == [("t2", "Because."), ("t1", "Edited."), ("t0", "Because.")]
    assert len(listings) == 1
    elsewhere(path, "DELETE FROM turns WHERE id = 't0'")  # a row gone, then a save here
    await store.save_turn(turn("t3", at=3.0))
    assert [tid for tid, _ in await texts(store)] == ["t3", "t2", "t1"]
    assert len(listings) == 2


async def test_a_session_deleted_and_imported_again_does_not_get_its_old_window(
    store: SqliteStore,
) -> None:
    await store.create_session(SESSION)
    await store.save_turn(dataclasses.replace(turn("t0", at=1.0), text="Deleted."))
    saved = await store.export_session("s1")
    assert saved is not None
    assert await store.recall("s1", 10, 0) is not None  # kept
    assert await store.delete_session("s1")
    # The same id again, its window at the same version: only a new read tells them apart.
    other = dataclasses.replace(saved.turns[0], text="Imported.")
    await store.import_session(dataclasses.replace(saved, turns=(other,)))
    assert await texts(store) == [("t0", "Imported.")]


async def test_a_listing_after_a_change_decodes_only_the_changed_turn(
    store: SqliteStore, path: Path
) -> None:
    """Turns that entered the kept window with their save are known to the next listing."""
    await store.create_session(SESSION)
    await store.save_turn(turn("t0", at=1764567890.1234567))
    assert await store.recall("s1", 10, 0) is not None
    for i in (1, 2):  # precise start times, as time.time() gives
        await store.save_turn(turn(f"t{i}", at=1764567890.1234567 + i / 3))
    decoded: list[str] = []
    fresh = store._rows.fresh

    def decode(row: tuple[object, ...]) -> Turn:
        decoded.append(str(row[0]))
        return fresh(row)

    store._decoded_turn = decode  # type: ignore[method-assign]
    elsewhere(path, "UPDATE turns SET text = 'Edited.' WHERE id = 't0'")
    assert await texts(store) == [("t2", "Because."), ("t1", "Because."), ("t0", "Edited.")]
    assert decoded == ["t0"]


async def test_a_save_that_rolls_back_leaves_the_kept_window_as_the_file_has_it(
    store: SqliteStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.create_session(SESSION)
    await store.save_turn(turn("t0", at=1.0))
    assert await store.recall("s1", 10, 0) is not None

    def fails(*_: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_write_context", fails)
    with pytest.raises(StoreUnavailable):
        await store.save_turn(turn("t1", at=2.0), TurnRecord((), 10))
    monkeypatch.undo()
    elsewhere(path, "UPDATE turns SET text = 'Edited.' WHERE id = 't0'")  # unseen here
    assert await texts(store) == [("t0", "Edited.")]


async def test_only_what_cannot_be_rebuilt_waits_for_the_disk(store: SqliteStore) -> None:
    """Claims, recorded contexts and summaries commit without an fsync (a power cut costs a
    claim the sweep marks anyway, a context, or a summary folded again); an ended turn waits."""
    await store.create_session(SESSION)
    seen: list[str] = []
    store.db.set_trace_callback(seen.append)

    def unsynced() -> bool:
        found = "PRAGMA synchronous=NORMAL" in seen
        seen.clear()
        return found

    assert await store.claim_turn(turn("t0", TurnStatus.RUNNING)) is None
    assert unsynced()
    await store.save_context("s1", "t0", (), 10)
    assert unsynced()
    await store.save_summary(
        "s1", Summary("Ash came.", "t0", "t0", 2.0, 1, SummarySource.MODEL, 3.0), 5
    )
    assert unsynced()
    await store.save_turn(turn("t0"))
    assert not unsynced()


async def test_a_session_s_older_contexts_are_pruned_every_keep_16th_write(
    store: SqliteStore,
) -> None:
    await store.create_session(SESSION)
    seen: list[str] = []
    store.db.set_trace_callback(seen.append)
    for i in range(27):
        await store.save_context("s1", f"t{i}", (), 200)
    assert sum(sql.startswith("DELETE FROM turn_contexts") for sql in seen) == 3  # 0, 13, 26


async def test_a_stored_turn_the_kept_window_cannot_take_is_still_stored(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.create_session(SESSION)
    await store.save_turn(turn("t0", at=1.0))
    assert await texts(store) == [("t0", "Because.")]

    def unreadable(row: tuple[object, ...]) -> Turn:
        raise StoreUnavailable("storage unavailable: a row this server cannot read")

    monkeypatch.setattr(store, "_decoded_turn", unreadable)
    await store.save_turn(dataclasses.replace(turn("t1", at=2.0), text="Stored."))
    monkeypatch.undo()
    assert await texts(store) == [("t1", "Stored."), ("t0", "Because.")]


async def test_a_context_keeps_its_history_by_reference_and_reads_older_records(
    store: SqliteStore, path: Path
) -> None:
    await store.create_session(SESSION)
    said = "The crypt breathes out. " * 40
    stored = dataclasses.replace(turn("t1"), text=said)
    await store.save_turn(stored)
    asked, shown = history_texts(stored)
    held = (
        Section(SectionKind.INPUT, "action", "I go", 2),
        Section(SectionKind.HISTORY, "turn t1", history_text(asked, shown), 9, turn_id="t1"),
    )
    await store.save_turn(turn("t2", at=3.0), TurnRecord(held, 5))
    assert await store.turn_context("s1", "t2") == held
    with contextlib.closing(sqlite3.connect(path)) as db:
        (blob,) = db.execute("SELECT sections FROM turn_contexts WHERE turn_id = 't2'").fetchone()
    assert said not in zlib.decompress(blob).decode()  # the turn's text is not copied
    # A record of an older release holds every text itself: read as it is.
    inline = [["history", "turn t1", "as it was then", 9, "", "", "t1"]]
    old = zlib.compress(json.dumps(inline).encode())
    elsewhere(path, f"UPDATE turn_contexts SET sections = x'{old.hex()}' WHERE turn_id = 't2'")
    got = await store.turn_context("s1", "t2")
    assert got == (Section(SectionKind.HISTORY, "turn t1", "as it was then", 9, turn_id="t1"),)
