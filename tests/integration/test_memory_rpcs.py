"""The memory RPCs through a real server: the lore book, the context viewer, the prompt budget,
regenerate, save games, and the stable prompt prefix and summaries with a real upstream."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import memory_pb2, turn_pb2
from narrator.v1 import narrator_service_pb2 as pb
from narrator_server.core.savegame import MAX_DOCUMENT_BYTES
from narrator_server.settings import UpstreamSettings

from ..support import SCENE, collect, details, new_session, serve, settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

K = memory_pb2.ContextSectionKind
OPTIONS = [turn_pb2.DecisionOption(id="attack"), turn_pb2.DecisionOption(id="flee")]


async def narrate(stub: Any, sid: str, action: str, **extra: Any) -> Any:
    return await collect(
        stub.Narrate(pb.NarrateRequest(session_id=sid, action=action, scene=SCENE, **extra))
    )


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def violations(error: grpc.aio.AioRpcError) -> list[str]:
    return [
        v.field
        for d in details(error)
        if hasattr(d, "field_violations")
        for v in d.field_violations
    ]


async def test_the_lore_book_through_the_api(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        sid = await new_session(s.stub)
        put = await s.stub.PutLoreEntry(pb.PutLoreEntryRequest(
            session_id=sid,
            entry=memory_pb2.LoreEntry(keys=["Black Gate"], content="Opens only at new moon.", priority=3),
        ))  # fmt: skip
        entry = put.entry
        assert entry.entry_id
        assert entry.update_time.seconds > 0
        await s.stub.PutLoreEntry(pb.PutLoreEntryRequest(
            session_id=sid, entry=memory_pb2.LoreEntry(content="The king is dead.", always_on=True)
        ))  # fmt: skip
        entry.content = "Opens only when the moon is new."
        entry.priority = -1
        replaced = (
            await s.stub.PutLoreEntry(pb.PutLoreEntryRequest(session_id=sid, entry=entry))
        ).entry
        assert replaced.entry_id == entry.entry_id
        listed = (await s.stub.ListLoreEntries(pb.ListLoreEntriesRequest(session_id=sid))).entries
        assert [e.content for e in listed] == [
            "The king is dead.",
            "Opens only when the moon is new.",
        ]
        page = await s.stub.ListLoreEntries(pb.ListLoreEntriesRequest(session_id=sid, page_size=1))
        assert len(page.entries) == 1
        assert page.next_page_token
        rest = await s.stub.ListLoreEntries(
            pb.ListLoreEntriesRequest(session_id=sid, page_size=1, page_token=page.next_page_token)
        )
        assert [e.entry_id for e in rest.entries] == [entry.entry_id]
        assert rest.next_page_token == ""

        bad = await rpc_error(s.stub.PutLoreEntry(pb.PutLoreEntryRequest(
            session_id=sid,
            entry=memory_pb2.LoreEntry(keys=["k"] * 17, content="x" * 2001, priority=5000),
        )))  # fmt: skip
        assert bad.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(bad)) == {"entry.keys", "entry.content", "entry.priority"}
        unknown = memory_pb2.LoreEntry(entry_id="nope", keys=["k"], content="c")
        missing = await rpc_error(
            s.stub.PutLoreEntry(pb.PutLoreEntryRequest(session_id=sid, entry=unknown))
        )
        assert missing.code() is grpc.StatusCode.NOT_FOUND
        gone = await rpc_error(s.stub.ListLoreEntries(pb.ListLoreEntriesRequest(session_id="nope")))
        assert gone.code() is grpc.StatusCode.NOT_FOUND

        await s.stub.DeleteLoreEntry(
            pb.DeleteLoreEntryRequest(session_id=sid, entry_id=entry.entry_id)
        )
        again = await rpc_error(
            s.stub.DeleteLoreEntry(
                pb.DeleteLoreEntryRequest(session_id=sid, entry_id=entry.entry_id)
            )
        )
        assert again.code() is grpc.StatusCode.NOT_FOUND


async def test_a_turn_context_shows_what_the_model_saw(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        sid = await new_session(s.stub)
        await s.stub.PutLoreEntry(pb.PutLoreEntryRequest(
            session_id=sid, entry=memory_pb2.LoreEntry(keys=["mirela"], content="Mirela owes Ash a boat.")
        ))  # fmt: skip
        first = await narrate(s.stub, sid, "I wave")
        second = await narrate(s.stub, sid, "I ask Mirela about the boat")
        turn_id = second.of("started")[0].turn_id
        got = await s.stub.GetTurnContext(pb.GetTurnContextRequest(session_id=sid, turn_id=turn_id))
        assert got.turn_id == turn_id
        assert got.budget_tokens == 12_000
        assert [x.kind for x in got.sections] == [
            K.CONTEXT_SECTION_KIND_SYSTEM, K.CONTEXT_SECTION_KIND_CAMPAIGN,
            K.CONTEXT_SECTION_KIND_HISTORY, K.CONTEXT_SECTION_KIND_LORE,
            K.CONTEXT_SECTION_KIND_SCENE, K.CONTEXT_SECTION_KIND_INPUT,
        ]  # fmt: skip
        history, lore = got.sections[2], got.sections[3]
        assert history.turn_id == first.of("started")[0].turn_id
        assert first.text in history.text
        assert (lore.matched_key, lore.text) == ("mirela", "Mirela owes Ash a boat.")
        assert got.total_tokens == sum(x.tokens for x in got.sections)
        assert "I ask Mirela about the boat" in got.sections[-1].text

        preview = await s.stub.GetTurnContext(pb.GetTurnContextRequest(session_id=sid))
        assert preview.turn_id == ""
        assert [x.turn_id for x in preview.sections if x.kind == K.CONTEXT_SECTION_KIND_HISTORY][
            -1
        ] == turn_id
        missing = await rpc_error(
            s.stub.GetTurnContext(pb.GetTurnContextRequest(session_id=sid, turn_id="nope"))
        )
        assert missing.code() is grpc.StatusCode.NOT_FOUND


async def test_a_turn_over_the_prompt_budget_is_refused_before_any_work(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, prompt_token_budget=600)) as s:
        sid = await new_session(s.stub)
        big = pb.NarrateRequest(session_id=sid, action="a" * 3000, scene=SCENE)
        error = await rpc_error(collect(s.stub.Narrate(big)))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert violations(error)[0] == "action"
        assert "NARRATOR_PROMPT_TOKENS" in error.details()
        got = (await s.stub.GetSession(pb.GetSessionRequest(session_id=sid))).session
        assert got.turn_count == 0


@pytest.mark.parametrize("kind", ["narrate", "decide"])
async def test_regenerate_replaces_the_last_turn_and_keeps_it_readable(
    tmp_path: Path, kind: str
) -> None:
    async with serve(settings(tmp_path)) as s:
        sid = await new_session(s.stub)

        async def turn(regenerate: bool) -> Any:
            if kind == "narrate":
                return await narrate(s.stub, sid, "I search the room", regenerate=regenerate)
            request = pb.DecideRequest(
                session_id=sid,
                question="What does Grub do?",
                options=OPTIONS,
                scene=SCENE,
                regenerate=regenerate,
            )
            return await collect(s.stub.Decide(request))

        none = await rpc_error(turn(True))
        assert none.code() is grpc.StatusCode.FAILED_PRECONDITION
        first = await turn(False)
        reroll = await turn(True)
        old, new = first.of("started")[0].turn_id, reroll.of("started")[0].turn_id
        session = (await s.stub.GetSession(pb.GetSessionRequest(session_id=sid))).session
        assert [(t.turn_id, t.superseded, t.replaces_turn_id) for t in session.recent_turns] == [
            (old, True, ""), (new, False, old),
        ]  # fmt: skip
        assert session.recent_turns[0].text == first.of("completed")[0].text
        again = await turn(True)  # a re-roll of the re-roll
        session = (await s.stub.GetSession(pb.GetSessionRequest(session_id=sid))).session
        assert session.recent_turns[-1].replaces_turn_id == new
        assert [t.superseded for t in session.recent_turns] == [True, True, False]
        preview = await s.stub.GetTurnContext(pb.GetTurnContextRequest(session_id=sid))
        history = [x.turn_id for x in preview.sections if x.kind == K.CONTEXT_SECTION_KIND_HISTORY]
        assert history == [again.of("started")[0].turn_id]


async def test_regenerate_while_the_last_turn_runs_is_refused(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, offline_pace_ms=50)) as s:
        sid = await new_session(s.stub)
        running = s.stub.Narrate(
            pb.NarrateRequest(session_id=sid, action="I wait", turn_id="slow-1")
        )
        async for message in running:
            if message.WhichOneof("event") == "delta":
                break
        error = await rpc_error(narrate(s.stub, sid, "no, I run", regenerate=True))
        assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "still running" in error.details()
        running.cancel()


async def test_export_then_import_continues_the_same_story(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        sid = await new_session(s.stub, seed=1234)
        await s.stub.PutLoreEntry(pb.PutLoreEntryRequest(
            session_id=sid, entry=memory_pb2.LoreEntry(keys=["gate"], content="The gate is cursed.")
        ))  # fmt: skip
        for action in ("I light a torch", "I open the gate"):
            await narrate(s.stub, sid, action)
        document = (await s.stub.ExportSession(pb.ExportSessionRequest(session_id=sid))).document
        data = json.loads(document)
        assert (data["format"], data["version"]) == ("narrator.session", 1)
        assert data["session"]["seed"] == "1234"
        assert [t["input"] for t in data["turns"]] == ["I light a torch", "I open the gate"]
        assert data["lore"][0]["content"] == "The gate is cursed."
        assert "tenant" not in document
        assert sid not in document

        imported = (await s.stub.ImportSession(pb.ImportSessionRequest(document=document))).session
        assert imported.session_id != sid
        assert (imported.turn_count, imported.seed) == (2, 1234)
        lore = (
            await s.stub.ListLoreEntries(pb.ListLoreEntriesRequest(session_id=imported.session_id))
        ).entries
        assert [e.content for e in lore] == ["The gate is cursed."]
        original = await narrate(s.stub, sid, "I step through")
        copy = await narrate(s.stub, imported.session_id, "I step through")
        assert copy.text == original.text
        assert copy.text


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("not json", "document.(root)"),
        ("[" * 100_000, "document.(root)"),
        (json.dumps({"format": "narrator.session", "version": 2}), "document.version"),
        ("x" * (MAX_DOCUMENT_BYTES + 1), "document"),
    ],
)
async def test_a_bad_save_game_is_invalid_and_stores_nothing(
    tmp_path: Path, document: str, field: str
) -> None:
    async with serve(settings(tmp_path)) as s:
        error = await rpc_error(s.stub.ImportSession(pb.ImportSessionRequest(document=document)))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert field in violations(error)
        assert await count_sessions(s) == 0


async def test_every_value_of_a_save_game_is_checked(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        sid = await new_session(s.stub)
        await narrate(s.stub, sid, "I look")
        data = json.loads(
            (await s.stub.ExportSession(pb.ExportSessionRequest(session_id=sid))).document
        )
        data["turns"][0]["delta_lengths"] = [1]
        data["turns"][0]["input"] = "x" * 5000
        data["turns"][0]["scene"]["facts"] = [""]
        data["turns"][0]["options"] = [{"id": "go", "arguments_schema": "{"}]
        data["turns"].append(dict(data["turns"][0]))
        data["lore"] = [{"entry_id": "a", "keys": [], "content": "c"}]
        error = await rpc_error(
            s.stub.ImportSession(pb.ImportSessionRequest(document=json.dumps(data)))
        )
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert {
            "document.turns[0].delta_lengths", "document.turns[0].input",
            "document.turns[0].scene.facts[0]",
            "document.turns[0].options[0].arguments_schema", "document.turns[1].turn_id", "document.lore[0].keys",
        } <= set(violations(error))  # fmt: skip
        assert await count_sessions(s) == 1


async def count_sessions(s: Any) -> int:
    store = s.app.store
    return int(
        await store._call(lambda: store.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
    )


async def test_the_prompt_prefix_is_stable_and_old_turns_are_summarized(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    config = settings(
        tmp_path,
        upstreams=(UpstreamSettings("openai", upstream.base_url, "fake-dm-1", "sk-test"),),
        history_token_budget=80,
    )
    async with serve(config) as s:
        sid = await new_session(s.stub)
        await s.stub.PutLoreEntry(pb.PutLoreEntryRequest(
            session_id=sid, entry=memory_pb2.LoreEntry(content="The king is dead.", always_on=True)
        ))  # fmt: skip
        for i in range(3):
            await narrate(s.stub, sid, f"I take step {i}")
        turns = [r.body["messages"] for r in upstream.received]
        for before, after in itertools.pairwise(turns):
            assert after[: len(before) - 1] == before[:-1]  # only the last message changed
        assert "The king is dead." in turns[0][2]["content"]

        for i in range(3, 12):
            await narrate(s.stub, sid, f"I take step {i}")
        await s.app.narrator.memory.summarizer.wait_idle()
        background = [
            r for r in upstream.received if "memory of a solo" in r.body["messages"][0]["content"]
        ]
        assert background
        assert "I take step 0" in background[0].body["messages"][1]["content"]
        preview = await s.stub.GetTurnContext(pb.GetTurnContextRequest(session_id=sid))
        (summary,) = [x for x in preview.sections if x.kind == K.CONTEXT_SECTION_KIND_SUMMARY]
        assert summary.text == "The torchlight flickers as you step forward."
        await asyncio.sleep(0)
