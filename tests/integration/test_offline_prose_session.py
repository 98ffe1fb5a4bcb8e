"""The scripted 50-turn session of bench/prose_quality.py through a real server: the prose
holds its floor, and a restart changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest

from narrator import NarratorClient, TurnCompleted
from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import scene_pb2
from narrator_server.providers.offline import action, compose
from narrator_server.testing import prose_session
from narrator_server.testing.prose_session import SCRIPT, measure

from ..support import details, new_session, serve, settings

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("seed", [7, 11])
async def test_the_scripted_session_holds_the_floor(tmp_path: Path, seed: int) -> None:
    async with serve(settings(tmp_path)) as s:
        _, played = await prose_session.play(f"127.0.0.1:{s.app.port}", seed)
    assert len(played) == 50
    assert all(p.text for p in played)
    quality = measure(played)
    assert quality.repeated_rate <= 0.05
    assert quality.repeats_within_10 == 0
    assert quality.distinct_trigrams >= 0.6
    assert quality.longest_echo <= 80
    assert quality.first_person_leaks == 0
    assert quality.spliced_foreign == 0
    assert quality.pronouns.wrong == 0
    assert quality.pronouns.they == 0
    assert set(quality.pronouns.by_name) == {"Mirela", "Grub", "Perrin", "Tamsin"}
    assert all(n >= 2 for n in quality.pronouns.by_name.values()), quality.pronouns


async def test_a_restart_tells_the_next_turn_the_same(tmp_path: Path) -> None:
    """Everything the narrator remembers comes from the store: the turn after a restart
    reads as it would have without one."""
    steps = SCRIPT[:12]
    next_step = SCRIPT[12]
    texts: list[str] = []
    for run, restart in (("a", False), ("b", True)):
        data = tmp_path / run
        async with serve(settings(data)) as s:
            session_id = await new_session(s.stub, seed=5)
            async with NarratorClient(f"127.0.0.1:{s.app.port}") as client:
                for step in steps:
                    room = prose_session.ROOMS[step.room]
                    await client.collect(client.narrate(session_id, step.action, room))
                if not restart:
                    texts.append(await narrate(client, session_id, next_step))
        if restart:
            action.parse.cache_clear()
            compose._keys_of_turn.cache_clear()
            async with (
                serve(settings(data)) as s,
                NarratorClient(f"127.0.0.1:{s.app.port}") as client,
            ):
                texts.append(await narrate(client, session_id, next_step))
    assert texts[0] == texts[1]
    assert texts[0]


async def narrate(client: NarratorClient, session_id: str, step: prose_session.Step) -> str:
    result = await client.collect(
        client.narrate(session_id, step.action, prose_session.ROOMS[step.room])
    )
    assert isinstance(result.completed, TurnCompleted)
    return result.text


async def test_pronouns_longer_than_the_limit_are_refused(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        scene = scene_pb2.Scene(
            location="x", characters=[scene_pb2.Character(name="Vex", pronouns="x" * 65)]
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in s.stub.Narrate(
                pb.NarrateRequest(session_id=session_id, action="I wait", scene=scene)
            ):
                pass
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        (bad,) = details(caught.value)
        assert [v.field for v in bad.field_violations] == ["scene.characters[0].pronouns"]
