"""The campaign memory's storage (`MemoryStorage`) on every adapter: lore, summaries, recorded
contexts, save games; and the SQLite migration that adds it."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import TYPE_CHECKING, cast

import pytest

from narrator_server.core.memory_models import (
    LoreEntry,
    SavedSession,
    Section,
    SectionKind,
    Summary,
    SummarySource,
    TurnRecord,
)
from narrator_server.core.memory_storage import LoreFull
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
from narrator_server.core.prompt import history_text, history_texts
from narrator_server.store.memory_codec import UNREADABLE_HISTORY
from narrator_server.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from narrator_server.core.memory_storage import CampaignStore
    from narrator_server.core.storage import SessionStore

SESSION = Session("s1", Setting("world"), PlayerCharacter("Ash"), 2**64 - 5, 1.0, tenant="t")


def turn(i: int, status: TurnStatus = TurnStatus.COMPLETED, sid: str = "s1") -> Turn:
    return Turn(
        f"t{i}", sid, TurnKind.NARRATION, f"act {i}", Scene(), f"said {i}", status, "p", "m",
        Usage(1, 2), float(10 + i), delta_lengths=(len(f"said {i}"),),
    )  # fmt: skip


def lore(entry_id: str, priority: int = 0, at: float = 1.0) -> LoreEntry:
    return LoreEntry(entry_id, ("k",), f"content {entry_id}", priority, False, at)


@pytest.fixture
async def store(store: SessionStore) -> CampaignStore:
    """The contract's store of each adapter, with one session."""
    campaign = cast("CampaignStore", store)
    await campaign.create_session(SESSION)
    return campaign


async def test_recall_reads_turns_summary_and_lore_unless_the_revision_is_current(
    store: CampaignStore,
) -> None:
    for i in range(5):
        await store.save_turn(turn(i, TurnStatus.CANCELLED if i == 2 else TurnStatus.COMPLETED))
    await store.supersede_turn("s1", "t3")
    first = await store.recall("s1", 10, -1)
    assert first is not None
    assert [t.turn_id for t in first.turns] == ["t4", "t1", "t0"]
    assert (first.summary, first.lore_revision, first.lore) == (None, 0, ())
    # The session comes with it (whose it is, how many turns), without its recent turns.
    assert first.session == dataclasses.replace(SESSION, turn_count=5, recent_turns=())
    # A turn read again is the same decoded turn; a row that changed is decoded anew.
    assert (await store.recall("s1", 10, -1)).turns[0] is first.turns[0]  # type: ignore[union-attr]
    assert (await store.recall("s1", 2, 0)).turns[-1].turn_id == "t1"  # type: ignore[union-attr]
    await store.put_lore("s1", lore("a"), new=True, max_entries=10)
    again = await store.recall("s1", 10, 0)
    assert again is not None
    assert again.lore_revision == 1
    assert again.lore == (lore("a"),)
    cached = await store.recall("s1", 10, 1)
    assert cached is not None
    assert cached.lore is None
    assert await store.recall("nope", 10, -1) is None


async def test_lore_is_added_replaced_listed_in_order_bounded_and_deleted(
    store: CampaignStore,
) -> None:
    await store.put_lore("s1", lore("a", 1, at=1.0), new=True, max_entries=3)
    await store.put_lore("s1", lore("b", 1, at=2.0), new=True, max_entries=3)
    await store.put_lore("s1", lore("c", 5), new=True, max_entries=3)
    with pytest.raises(LoreFull):
        await store.put_lore("s1", lore("d"), new=True, max_entries=3)
    changed = dataclasses.replace(lore("a", 9), keys=("x", "y"))
    assert await store.put_lore("s1", changed, new=False, max_entries=3) == changed
    assert await store.put_lore("s1", lore("zz"), new=False, max_entries=3) is None
    assert await store.put_lore("nope", lore("e"), new=True, max_entries=3) is None
    listed = await store.list_lore("s1")
    assert [e.entry_id for e in listed or []] == ["a", "c", "b"]
    assert listed[0] == changed  # type: ignore[index]
    assert await store.delete_lore("s1", "c")
    assert not await store.delete_lore("s1", "c")
    assert await store.list_lore("nope") is None
    found = await store.recall("s1", 1, -1)
    assert found is not None
    assert found.lore_revision == 5  # every write bumps it


async def test_summaries_keep_the_newest_and_turns_between_is_a_range(store: CampaignStore) -> None:
    for i in range(6):
        await store.save_turn(turn(i))
    between = await store.turns_between("s1", 10.0, 14.0, 10)  # both ends excluded
    assert [t.turn_id for t in between] == ["t1", "t2", "t3"]
    assert [t.turn_id for t in await store.turns_between("s1", float("-inf"), 99.0, 2)] == [
        "t0",
        "t1",
    ]
    for n in range(4):
        s = Summary(f"sum {n}", "t0", f"t{n}", 10.0 + n, n + 1, SummarySource.OFFLINE, 5.0)
        await store.save_summary("s1", s, keep=2)
    await store.save_summary("nope", s, keep=2)
    found = await store.recall("s1", 1, 0)
    assert found is not None
    assert found.summary == s
    saved = await store.export_session("s1")
    assert saved is not None
    assert [x.text for x in saved.summaries] == ["sum 2", "sum 3"]


async def test_contexts_first_record_wins_and_only_the_newest_are_kept(
    store: CampaignStore,
) -> None:
    one = (Section(SectionKind.INPUT, "action", "I look ✨", 6),)
    other = (Section(SectionKind.SCENE, "scene", "x", 4, "id", "key", "t"),)
    await store.save_context("s1", "t1", one, keep=2)
    await store.save_context("s1", "t1", other, keep=2)
    assert await store.turn_context("s1", "t1") == one
    await store.save_context("s1", "t2", other, keep=2)
    await store.save_context("s1", "t3", other, keep=2)
    assert await store.turn_context("s1", "t1") is None
    assert await store.turn_context("s1", "t3") == other
    await store.save_context("nope", "t1", one, keep=2)
    assert await store.turn_context("nope", "t1") is None


async def test_older_contexts_go_by_the_next_prune_and_the_newest_keep_all_stay(
    store: CampaignStore,
) -> None:
    one = (Section(SectionKind.INPUT, "action", "I look", 3),)
    keep, written = 32, 40  # pruned at the first write, then every third: 2 more at most

    async def kept() -> list[int]:
        return [i for i in range(written) if await store.turn_context("s1", f"t{i}")]

    for i in range(written):
        await store.save_context("s1", f"t{i}", one, keep=keep)
    found = await kept()
    assert keep <= len(found) <= keep + keep // 16
    assert found == list(range(written - len(found), written))  # only the newest
    for i in range(written, written + 3):
        await store.save_context("s1", f"t{i}", one, keep=keep)
    written += 3
    assert (await kept())[0] >= written - keep - keep // 16


async def test_a_turn_saved_with_its_record_keeps_both_in_one_write(
    store: CampaignStore,
) -> None:
    one = (Section(SectionKind.INPUT, "action", "I look ✨", 6),)
    other = (Section(SectionKind.SCENE, "scene", "x", 4, "id", "key", "t"),)
    await store.save_context("s1", "t1", one, keep=2)  # an earlier record of t1 stays
    await store.save_turn(turn(1), TurnRecord(other, 2))
    assert await store.turn_context("s1", "t1") == one
    await store.save_turn(turn(2), TurnRecord(other, 2))
    await store.save_turn(turn(3), TurnRecord(one, 2))
    assert await store.get_turn("s1", "t3") == turn(3)
    assert await store.turn_context("s1", "t3") == one
    assert await store.turn_context("s1", "t2") == other
    assert await store.turn_context("s1", "t1") is None  # only the newest 2 are kept
    # A turn of a deleted session stores neither the turn nor its record.
    await store.save_turn(turn(4, sid="nope"), TurnRecord(one, 2))
    assert await store.get_turn("nope", "t4") is None
    assert await store.turn_context("nope", "t4") is None


def history(t: Turn, text: str = "") -> Section:
    """A history section as the assembly writes it for `t` (or with another text)."""
    rendered = history_text(*history_texts(t))
    return Section(SectionKind.HISTORY, f"turn {t.turn_id}", text or rendered, 7, turn_id=t.turn_id)


async def test_a_context_s_history_reads_back_as_the_request_held_it(
    store: CampaignStore,
) -> None:
    decided = dataclasses.replace(
        turn(1), kind=TurnKind.DECISION, input="Which  door?\nLeft or right", text="Left ✨\nSure."
    )
    for t in (turn(0), decided):
        await store.save_turn(t)
    sections = (
        Section(SectionKind.SYSTEM, "system", "rules", 1),
        history(turn(0)),
        history(decided),
        Section(SectionKind.INPUT, "action", "I go", 2),
    )
    await store.save_turn(turn(2), TurnRecord(sections, 5))
    assert await store.turn_context("s1", "t2") == sections


async def test_a_stored_context_s_history_that_no_longer_renders_the_same_says_so(
    reopen: Callable[[], Awaitable[SessionStore]],
) -> None:
    # The durable stores keep a history section as a reference to its turn, checked when read.
    store = cast("CampaignStore", await reopen())
    try:
        await store.create_session(SESSION)
        await store.save_turn(turn(0))
        sections = (
            history(turn(0), text="what an older release wrote\nsaid 0"),
            history(turn(7)),  # never stored
            history(turn(0)),
        )
        await store.save_context("s1", "t1", sections, keep=5)
        got = await store.turn_context("s1", "t1")
    finally:
        await store.close()
    assert got is not None
    assert [s.text for s in got] == [UNREADABLE_HISTORY, UNREADABLE_HISTORY, sections[2].text]
    assert [(s.turn_id, s.tokens) for s in got] == [(s.turn_id, s.tokens) for s in sections]


async def test_export_and_import_round_trip_and_delete_cascades(store: CampaignStore) -> None:
    for i in range(3):
        await store.save_turn(turn(i))
    await store.put_lore("s1", lore("a"), new=True, max_entries=5)
    await store.save_summary(
        "s1", Summary("so far", "t0", "t1", 11.0, 2, SummarySource.MODEL, 3.0), keep=5
    )
    saved = await store.export_session("s1")
    assert saved is not None
    assert saved.session.seed == SESSION.seed
    assert [t.turn_id for t in saved.turns] == ["t0", "t1", "t2"]
    copy = SavedSession(
        dataclasses.replace(saved.session, session_id="s2"),
        tuple(dataclasses.replace(t, session_id="s2") for t in saved.turns),
        saved.lore,
        saved.summaries,
    )
    await store.import_session(copy)
    again = await store.export_session("s2")
    assert again is not None
    assert again.turns == copy.turns
    assert (again.lore, again.summaries) == (saved.lore, saved.summaries)
    assert again.session.turn_count == 3
    session = await store.get_session("s2", 10)
    assert session is not None
    assert (session.tenant, session.seed) == ("t", SESSION.seed)
    recalled = await store.recall("s2", 10, -1)
    assert recalled is not None
    assert recalled.lore == saved.lore
    assert await store.delete_session("s2")
    assert await store.export_session("s2") is None
    assert await store.list_lore("s2") is None


async def test_a_version_2_database_is_migrated(tmp_path: Path) -> None:
    from narrator_server.store.sqlite_schema import _V1, _V1_LATE_COLUMNS, MIGRATIONS

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(_V1)
    for statement in _V1_LATE_COLUMNS.values():
        db.execute(statement)
    db.executescript(f"BEGIN;\n{MIGRATIONS[2]}\nPRAGMA user_version = 2;\nCOMMIT;")
    db.execute(
        "INSERT INTO sessions (id, world, tone, player_name, player_description, seed,"
        " created_at) VALUES ('old', 'w', '', 'Ash', '', 5, 1.0)"
    )
    for i in range(2):  # turns of the old release (failed: not read back), counted by the step
        db.execute(
            "INSERT INTO turns (session_id, id, kind, input, scene, text, status, provider,"
            " model, input_tokens, output_tokens, finish_reason, created_at) VALUES"
            f" ('old', 't{i}', 'narration', 'x', '{{}}', '', 'failed', 'p', 'm', 1, 1,"
            f" 'stop', {i + 1}.0)"
        )
    db.close()
    store = await SqliteStore.open(path)
    try:
        found = await store.recall("old", 5, -1)
        assert found is not None
        assert (found.lore_revision, found.lore) == (0, ())
        assert found.session.turn_count == 2
        await store.save_turn(turn(7, sid="old"))
        found = await store.recall("old", 5, -1)
        assert found is not None
        assert found.session.turn_count == 3  # and counted since by the trigger
        with sqlite3.connect(path) as db:  # on the session's row: no read counts turns
            assert db.execute("SELECT turn_total FROM sessions").fetchall() == [(3,)]
        await store.put_lore("old", lore("a"), new=True, max_entries=5)
    finally:
        await store.close()
