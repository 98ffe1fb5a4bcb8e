"""The campaign memory through the narrator's use cases, with fakes: one read per turn,
summaries in the background, recorded contexts, the lore book and regeneration."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import aclosing
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.assembly import Budgets
from narrator_server.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    LoreEntryNotFound,
    SessionNotFound,
    StoreUnavailable,
    UpstreamUnavailable,
)
from narrator_server.core.lore import LoreLimits
from narrator_server.core.memory import MemoryConfig
from narrator_server.core.memory_models import LoreEntry, SectionKind, SummarySource
from narrator_server.core.models import (
    LOCAL,
    Caller,
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    TurnStatus,
)
from narrator_server.core.narrator import Narrator, NarratorConfig
from narrator_server.core.prompt import estimate_tokens
from narrator_server.core.summaries import Summarizer, SummaryConfig
from narrator_server.store.memory import MemoryStore
from narrator_server.turnlog.local import LocalTurnLog

from .fakes import Script, ScriptedProvider

if TYPE_CHECKING:
    from narrator_server.core.memory_models import Recollection, Section, Summary, TurnRecord
    from narrator_server.core.models import Turn
    from narrator_server.core.ports import ChatRequest


class CountingStore(MemoryStore):
    """The fake store, counting memory reads and failing summary writes on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.recalls: list[bool] = []  # whether each read carried the lore
        self.session_reads = 0
        self.fail_summaries = 0
        self.fail_saves = 0
        self.writes: list[str] = []  # the turn writes and context writes, in order

    async def get_session(self, session_id: str, recent_turn_limit: int) -> Session | None:
        self.session_reads += 1
        return await super().get_session(session_id, recent_turn_limit)

    async def recall(
        self, session_id: str, turn_limit: int, lore_revision: int
    ) -> Recollection | None:
        found = await super().recall(session_id, turn_limit, lore_revision)
        self.recalls.append(found is not None and found.lore is not None)
        return found

    async def save_turn(self, turn: Turn, record: TurnRecord | None = None) -> None:
        self.writes.append("turn with its record" if record else "turn")
        if self.fail_saves:
            self.fail_saves -= 1
            raise StoreUnavailable("disk full")
        await super().save_turn(turn, record)

    async def save_context(
        self, session_id: str, turn_id: str, sections: tuple[Section, ...], keep: int
    ) -> None:
        self.writes.append("context")
        await super().save_context(session_id, turn_id, sections, keep)

    async def save_summary(self, session_id: str, summary: Summary, keep: int) -> None:
        if self.fail_summaries:
            self.fail_summaries -= 1
            raise StoreUnavailable("disk full")
        await super().save_summary(session_id, summary, keep)


class Summaries(ScriptedProvider):
    """Narrates "Hello there."; answers summary requests with `summary` (or fails)."""

    def __init__(
        self, summary: str = "Ash owes Mirela a boat.", fail: bool = False,
        chunks: list[str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__("p")
        self.summary, self.fail = summary, fail
        self.chunks = chunks or [summary]
        self.summaries_closed_early = 0

    async def stream(self, request: ChatRequest):  # type: ignore[no-untyped-def, override]
        if request.background:
            if self.fail:
                self.requests.append(request)
                raise UpstreamUnavailable("down")
            self.scripts.insert(0, Script(self.chunks))
            closed = self.closed_early
            try:
                async with aclosing(super().stream(request)) as events:
                    async for event in events:
                        yield event
            finally:
                self.summaries_closed_early += self.closed_early - closed
            return
        async for event in super().stream(request):
            yield event


def config(history: int = 3000, **memory: object) -> NarratorConfig:
    budgets = Budgets(history=history, history_max_turns=50)
    return NarratorConfig(memory=MemoryConfig(budgets=budgets, **memory))  # type: ignore[arg-type]


async def setup(
    provider: ScriptedProvider | None = None, cfg: NarratorConfig | None = None
) -> tuple[Narrator, CountingStore, str]:
    store = CountingStore()
    narrator = Narrator(provider or ScriptedProvider("p"), store, LocalTurnLog(), cfg or config())
    session = await narrator.create_session(LOCAL, Setting("a crypt"), PlayerCharacter("Ash"), 1)
    return narrator, store, session.session_id


async def play(narrator: Narrator, sid: str, *actions: str, regenerate: bool = False) -> None:
    for action in actions:
        async for _ in narrator.narrate(LOCAL, sid, action, Scene(), regenerate=regenerate):
            pass


async def test_a_turn_reads_its_memory_in_one_call_and_the_lore_only_when_it_changed() -> None:
    provider = ScriptedProvider("p")
    narrator, store, sid = await setup(provider)
    await play(narrator, sid, "one", "two")
    assert store.recalls == [True, False]  # the second turn's matcher came from the cache
    await narrator.put_lore(LOCAL, sid, LoreEntry("", ("orc",), "Orcs fear fire."))
    await play(narrator, sid, "I see an orc")
    assert store.recalls == [True, False, True]
    assert "Orcs fear fire." in provider.requests[-1].messages[-1].content


async def test_a_turn_checks_the_owner_from_its_memory_read_and_reads_nothing_else() -> None:
    provider = ScriptedProvider("p")
    narrator, store, sid = await setup(provider)
    await play(narrator, sid, "one", "two")
    assert (len(store.recalls), store.session_reads) == (2, 0)
    assert provider.requests[-1].context.turn_index == 1  # the count came with the read
    stranger = Caller("other-tenant", "k", "")
    with pytest.raises(SessionNotFound):
        async for _ in narrator.narrate(stranger, sid, "three", Scene()):
            pass
    assert len(provider.requests) == 2  # nothing was asked of the model for the stranger


async def test_turns_that_leave_the_window_are_folded_by_the_model_in_the_background() -> None:
    provider = Summaries()
    narrator, store, sid = await setup(provider, config(history=60, fold_after=3))
    await play(narrator, sid, *(f"action {i}" for i in range(8)))
    await narrator.memory.summarizer.wait_idle()
    (summary,) = store.summaries[sid][-1:]
    assert (summary.text, summary.source) == ("Ash owes Mirela a boat.", SummarySource.MODEL)
    assert summary.first_turn_id == store.turns[sid][0].turn_id
    assert summary.turn_count >= 3
    asked = [r for r in provider.requests if r.background]
    assert asked
    assert "Player action: action 0" in asked[0].messages[-1].content
    assert all(not r.background for r in provider.requests if r not in asked)
    await play(narrator, sid, "and then")
    sections = (await narrator.turn_context(LOCAL, sid, store.turns[sid][-1].turn_id)).sections
    (shown,) = [s for s in sections if s.kind is SectionKind.SUMMARY]
    assert shown.text == "Ash owes Mirela a boat."
    assert shown.turn_id == summary.last_turn_id
    history = [s.turn_id for s in sections if s.kind is SectionKind.HISTORY]
    covered = [t.turn_id for t in store.turns[sid][: summary.turn_count]]
    assert not set(history) & set(covered)  # nothing both summarized and in the window


async def test_a_summary_s_words_are_kept_as_they_are_read() -> None:
    """Its reader only keeps the words: the provider hands them over as it reads them."""
    provider = Summaries(chunks=["Ash ", "owes ", "Mirela ", "a ", "boat."])
    provider.pushes = True
    narrator, store, sid = await setup(provider, config(history=60, fold_after=3))
    await play(narrator, sid, *(f"action {i}" for i in range(8)))
    await narrator.memory.summarizer.wait_idle()
    assert store.summaries[sid][-1].text == "Ash owes Mirela a boat."
    assert provider.pushed >= 5


@pytest.mark.parametrize("pushes", [False, True])
async def test_a_summary_far_past_its_budget_is_cut_and_its_stream_closed(pushes: bool) -> None:
    provider = Summaries(chunks=["word "] * 5000)  # 25,000 characters, whatever was asked
    provider.pushes = pushes
    cfg = NarratorConfig(
        memory=MemoryConfig(
            budgets=Budgets(history=60, history_max_turns=50),
            summary=SummaryConfig(budget_tokens=100),
            fold_after=3,
        )
    )
    narrator, store, sid = await setup(provider, cfg)
    await play(narrator, sid, *(f"action {i}" for i in range(8)))
    await narrator.memory.summarizer.wait_idle()
    text = store.summaries[sid][-1].text
    assert text.startswith("word word")
    assert estimate_tokens(text) <= 100
    assert provider.summaries_closed_early >= 1  # read no further than 16 characters a token


async def test_a_summary_budget_that_holds_no_text_asks_for_no_summaries() -> None:
    provider = Summaries()
    budgets = Budgets(history=60, history_max_turns=50, summary=0)
    cfg = NarratorConfig(memory=MemoryConfig(budgets=budgets, fold_after=3))
    narrator, store, sid = await setup(provider, cfg)
    await play(narrator, sid, *(f"action {i}" for i in range(8)))
    await narrator.memory.summarizer.wait_idle()
    assert narrator.memory.summarizer.folded == 0
    assert not [r for r in provider.requests if r.background]
    assert not store.summaries.get(sid)
    assert len(provider.requests) == 8  # the turns themselves


async def test_without_a_model_the_offline_summarizer_keeps_the_promise() -> None:
    provider = Summaries(fail=True)
    narrator, store, sid = await setup(provider, config(history=60, fold_after=3))
    await play(narrator, sid, "I swear to Mirela I will return her silver key", *("I wait",) * 6)
    await narrator.memory.summarizer.wait_idle()
    summary = store.summaries[sid][-1]
    assert summary.source is SummarySource.OFFLINE
    assert "swear to Mirela I will return her silver key" in summary.text


async def test_a_summary_that_cannot_be_stored_loses_nothing_and_is_retried() -> None:
    narrator, store, sid = await setup(Summaries(), config(history=60, fold_after=3))
    store.fail_summaries = 1
    await play(narrator, sid, *(f"a{i}" for i in range(8)))
    await narrator.memory.summarizer.wait_idle()
    assert store.summaries.get(sid, []) == []
    assert len(store.turns[sid]) == 8
    await play(narrator, sid, "again")
    await narrator.memory.summarizer.wait_idle()
    assert store.summaries[sid][-1].first_turn_id == store.turns[sid][0].turn_id


async def test_summary_jobs_are_one_per_session_and_capped_over_the_server() -> None:
    gate = asyncio.Event()
    started: list[ChatRequest] = []

    class Slow(Summaries):
        async def stream(self, request: ChatRequest):  # type: ignore[no-untyped-def, override]
            if request.background:
                started.append(request)
                await gate.wait()
            async for event in super().stream(request):
                yield event

    cfg = config(history=60, fold_after=3, summary=SummaryConfig(max_running=1, budget_tokens=100))
    narrator, store, sid = await setup(Slow(), cfg)
    other = (await narrator.create_session(LOCAL, Setting("w"), PlayerCharacter("B"), 2)).session_id
    await play(narrator, sid, *(f"a{i}" for i in range(10)))
    await play(narrator, other, *(f"b{i}" for i in range(10)))
    summarizer = narrator.memory.summarizer
    assert summarizer.busy == 2  # one job per session, even after more turns asked again
    await asyncio.sleep(0.05)
    assert len(started) == 1  # the global cap: the other session's job waits for the slot
    gate.set()
    await summarizer.wait_idle()
    assert store.summaries[sid]
    assert store.summaries[other]
    assert len(started) == 2


async def test_shutdown_drains_the_background_work() -> None:
    never = asyncio.Event()

    class Stuck(Summaries):
        async def stream(self, request: ChatRequest):  # type: ignore[no-untyped-def, override]
            if request.background:
                await never.wait()
            async for event in super().stream(request):
                yield event

    narrator, store, sid = await setup(Stuck(), config(history=60, fold_after=3))
    await play(narrator, sid, *(f"a{i}" for i in range(8)))
    assert narrator.memory.summarizer.busy == 1
    assert await narrator.drain(timeout=1.0)
    assert narrator.memory.summarizer.busy == 0
    assert store.summaries.get(sid, []) == []


async def test_a_turn_context_is_what_its_request_held_and_a_preview_records_nothing() -> None:
    provider = ScriptedProvider("p")
    narrator, store, sid = await setup(provider)
    await narrator.put_lore(LOCAL, sid, LoreEntry("", ("crypt",), "The crypt floods at night."))
    await play(narrator, sid, "I enter the crypt")
    turn = store.turns[sid][0]
    view = await narrator.turn_context(LOCAL, sid, turn.turn_id)
    assert [s.kind for s in view.sections][-3:] == [
        SectionKind.LORE,
        SectionKind.SCENE,
        SectionKind.INPUT,
    ]
    assert view.sections[-3].matched_key == "crypt"
    assert view.total_tokens == sum(s.tokens for s in view.sections)
    from narrator_server.core import prompt

    assert prompt.messages_of(view.sections) == provider.requests[0].messages
    preview = await narrator.turn_context(LOCAL, sid, "")
    assert preview.turn_id == ""
    assert SectionKind.HISTORY in [s.kind for s in preview.sections]
    assert len(store.contexts[sid]) == 1
    with pytest.raises(Exception, match="not found"):
        await narrator.turn_context(LOCAL, sid, "nope")
    store.contexts[sid].clear()
    with pytest.raises(FailedPrecondition):
        await narrator.turn_context(LOCAL, sid, turn.turn_id)


async def test_a_turn_context_is_stored_in_the_turn_s_own_write_even_when_retried() -> None:
    provider = ScriptedProvider("p")
    narrator, store, sid = await setup(provider)
    await play(narrator, sid, "I enter the crypt")
    assert store.writes == ["turn with its record"]  # one write, no second one for the context
    first = store.turns[sid][0]
    view = await narrator.turn_context(LOCAL, sid, first.turn_id)
    assert view.sections[-1].text.endswith("I enter the crypt")
    store.fail_saves = 1  # the next turn's save fails once: the turn and its record wait
    with pytest.raises(StoreUnavailable):
        await play(narrator, sid, "I light a torch")
    assert await narrator.drain() is True  # the retry stores the turn and its record
    assert store.writes[1:] == ["turn with its record", "turn with its record"]
    second = store.turns[sid][-1]
    assert second.input == "I light a torch"
    view = await narrator.turn_context(LOCAL, sid, second.turn_id)
    assert view.sections[-1].text.endswith("I light a torch")


async def test_the_lore_book_checks_bounds_tenancy_and_pages() -> None:
    cfg = dataclasses.replace(config(), memory=MemoryConfig(lore=LoreLimits(max_entries=3)))
    narrator, _, sid = await setup(cfg=cfg)
    stored = await narrator.put_lore(LOCAL, sid, LoreEntry("", (" Mirela ",), "A smuggler.", 5))
    assert stored.entry_id
    assert stored.keys == ("Mirela",)
    assert stored.updated_at > 0
    with pytest.raises(InvalidArgument):
        await narrator.put_lore(LOCAL, sid, LoreEntry("", (), "keyless"))
    with pytest.raises(LoreEntryNotFound):
        await narrator.put_lore(LOCAL, sid, LoreEntry("unknown", ("k",), "c"))
    with pytest.raises(SessionNotFound):
        await narrator.put_lore(Caller(tenant="other"), sid, LoreEntry("", ("k",), "c"))
    with pytest.raises(SessionNotFound):
        await narrator.list_lore(Caller(tenant="other"), sid)
    await narrator.put_lore(LOCAL, sid, LoreEntry("", ("b",), "b", 1))
    await narrator.put_lore(LOCAL, sid, LoreEntry("", ("c",), "c", 9))
    with pytest.raises(FailedPrecondition, match="full"):
        await narrator.put_lore(LOCAL, sid, LoreEntry("", ("d",), "d"))
    replaced = await narrator.put_lore(LOCAL, sid, dataclasses.replace(stored, priority=0))
    assert replaced.entry_id == stored.entry_id
    page, token = await narrator.list_lore(LOCAL, sid, page_size=2)
    assert [e.content for e in page] == ["c", "b"]
    assert token
    rest, end = await narrator.list_lore(LOCAL, sid, page_size=2, page_token=token)
    assert [e.content for e in rest] == ["A smuggler."]
    assert end == ""
    with pytest.raises(InvalidArgument):
        await narrator.list_lore(LOCAL, sid, page_token="garbage")
    await narrator.delete_lore(LOCAL, sid, stored.entry_id)
    with pytest.raises(LoreEntryNotFound):
        await narrator.delete_lore(LOCAL, sid, stored.entry_id)


async def test_a_regenerated_turn_replaces_the_last_one_and_leaves_memory() -> None:
    provider = ScriptedProvider("p")
    narrator, store, sid = await setup(provider)
    await play(narrator, sid, "one", "two")
    await play(narrator, sid, "two, again", regenerate=True)
    first, second, third = store.turns[sid]
    assert (second.superseded, third.replaces_turn_id) == (True, second.turn_id)
    reroll = provider.requests[-1].messages
    assert "Player action: one" in [m.content for m in reroll]
    assert "Player action: two" not in [m.content for m in reroll]
    await play(narrator, sid, "three")
    history = [m.content for m in provider.requests[-1].messages if m.role == "user"]
    assert "Player action: two, again" in history
    assert "Player action: two" not in history
    assert first.status is TurnStatus.COMPLETED


async def test_a_shutdown_cancelled_as_the_summary_jobs_end_is_cancelled() -> None:
    # The drain is cancelled once its jobs ended, before it woke up: Python 3.11's
    # `asyncio.wait_for` would return the jobs' result and drop that cancel.
    drainer: list[asyncio.Task[None]] = []

    class EndsCancellingTheDrain(MemoryStore):
        async def turns_between(self, session_id: str, after: float, before: float, limit: int
                                ) -> list[Turn]:  # fmt: skip
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:  # once this job ended, its drain is cancelled
                job = asyncio.current_task()
                assert job is not None
                job.add_done_callback(lambda _: drainer[0].cancel())
            return []

    store = EndsCancellingTheDrain()
    summarizer = Summarizer(None, store, SummaryConfig())
    session = Session("s1", Setting("a crypt"), PlayerCharacter("Ash"), 1, 1.0)
    assert summarizer.request(session, None, before=2.0)
    await asyncio.sleep(0)  # the job waits in its read
    drainer.append(asyncio.ensure_future(summarizer.drain(timeout=5.0)))
    with pytest.raises(asyncio.CancelledError):
        await drainer[0]
    assert summarizer.busy == 0
