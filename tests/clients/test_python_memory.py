"""The Python client's memory calls against a real server: lore, re-rolls, the context viewer
and save games larger than gRPC's default 4 MiB message limit."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from narrator import NarratorClient, NarratorError, character, scene
from narrator.context import render

from ..support import serve, settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

SCENE = scene("the black gate", [character("Grub", "a goblin", "hostile")])


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[NarratorClient]:
    async with (
        serve(settings(tmp_path)) as s,
        NarratorClient(f"127.0.0.1:{s.app.port}") as c,
    ):
        yield c


async def test_lore_regenerate_and_the_context_viewer(client: NarratorClient) -> None:
    sid = (await client.create_session("a crypt", "Ash")).session_id
    entry = await client.put_lore(sid, "The gate answers only to Grub.", ["black gate"], priority=2)
    await client.put_lore(sid, "Ash is cursed.", always_on=True)
    assert [e.content for e in await client.list_lore(sid)] == [
        "The gate answers only to Grub.", "Ash is cursed.",
    ]  # fmt: skip
    first = await client.collect(client.narrate(sid, "I knock", SCENE))
    second = await client.collect(client.narrate(sid, "I knock harder", SCENE, regenerate=True))
    assert second.started is not None
    assert first.started is not None
    session = await client.get_session(sid)
    assert [t.superseded for t in session.recent_turns] == [True, False]
    context = await client.turn_context(sid, second.started.turn_id)
    shown = render(context)
    assert f"Context of {second.started.turn_id}" in shown
    assert "lore · lore: black gate [key: black gate]" in shown
    assert "The gate answers only to Grub." in shown
    assert "history" not in shown  # the re-roll does not see the turn it replaces
    await client.delete_lore(sid, entry.entry_id)
    assert [e.content for e in await client.list_lore(sid)] == ["Ash is cursed."]
    preview = render(await client.turn_context(sid))
    assert "next turn (preview)" in preview
    assert "history" in preview


async def test_a_save_game_over_four_mib_goes_both_ways(client: NarratorClient) -> None:
    sid = (await client.create_session("a crypt", "Ash", seed=9)).session_id
    document = json.loads(await client.export_session(sid))
    text = "word " * 20_000
    document["turns"] = [
        {
            "turn_id": f"t{i}",
            "kind": "narration",
            "input": f"step {i}",
            "text": text,
            "status": "completed",
            "created_at": 1000.0 + i,
            "delta_lengths": [len(text)],
        }
        for i in range(50)
    ]
    big = json.dumps(document)
    assert len(big) > 4 * 1024 * 1024
    imported = await client.import_session(big)
    assert imported.turn_count == 50
    again = json.loads(await client.export_session(imported.session_id))
    assert [t["text"] for t in again["turns"]] == [text] * 50
    with pytest.raises(NarratorError) as caught:
        await client.import_session("{}")
    assert caught.value.field_violations
