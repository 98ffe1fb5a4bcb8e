"""Concurrent calls that name one turn: one turn, one upstream request, one stored row; the
same turn id in two sessions is two turns (issue 8, item 9)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2, turn_pb2
from narrator_server.core.summaries import SUMMARY_PROMPT
from narrator_server.testing.replies import Reply

from ..support import SCENE, Collected, collect, new_session, serve, settings
from .test_upstream_turns import upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

TRIALS = 150
WORDS = "The bell tolls once, twice, and the crypt answers with a long sigh."
# The fake upstream decides for the first option with no arguments: valid here, so each
# decision is exactly one upstream request.
OPTIONS = [
    turn_pb2.DecisionOption(
        id="attack", description="Grub attacks",
        arguments_schema='{"type": "object", "properties": {"target": {"type": "string"}}}',
    ),
    turn_pb2.DecisionOption(id="flee", description="Grub flees"),
]  # fmt: skip


def request(rpc: str, session_id: str, turn_id: str) -> Any:
    if rpc == "Narrate":
        return pb.NarrateRequest(
            session_id=session_id, action="I ring the bell", scene=SCENE, turn_id=turn_id
        )
    return pb.DecideRequest(
        session_id=session_id, question="What does Grub do?", options=OPTIONS, scene=SCENE,
        turn_id=turn_id,
    )  # fmt: skip


def assert_one_turn(one: Collected, two: Collected, turn_id: str) -> None:
    """Both streams carry the same turn: same deltas and seq, same decision and completion.
    Only TurnStarted.resumed differs: exactly one stream started the turn, the other joined."""
    assert one.events == two.events
    started = sorted((one.of("started")[0].resumed, two.of("started")[0].resumed))
    assert started == [False, True]
    for got in (one, two):
        assert got.of("started")[0].turn_id == turn_id
    assert [(d.seq, d.text) for d in one.of("delta")] == [(d.seq, d.text) for d in two.of("delta")]
    assert [d.seq for d in one.of("delta")] == list(range(1, len(one.of("delta")) + 1))
    assert one.of("decision") == two.of("decision")
    assert one.of("completed") == two.of("completed")
    assert one.text == one.of("completed")[0].text


def turn_requests(upstream: FakeOpenAI) -> int:
    """Upstream requests of turns (not the memory's summaries, asked in the background)."""
    summary = SUMMARY_PROMPT.split("{", 1)[0]
    return sum(not r.body["messages"][0]["content"].startswith(summary) for r in upstream.received)


@pytest.mark.parametrize("rpc", ["Narrate", "Decide"])
async def test_two_calls_with_one_new_turn_id_start_one_turn(
    tmp_path: Path, upstream: FakeOpenAI, rpc: str
) -> None:
    if rpc == "Narrate":
        upstream.default = Reply(text=WORDS, pace=0.001)
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        texts = []
        for trial in range(TRIALS):
            before = turn_requests(upstream)
            call = getattr(s.stub, rpc)
            message = request(rpc, session_id, f"race-{trial}")
            one, two = await asyncio.gather(collect(call(message)), collect(call(message)))
            assert turn_requests(upstream) == before + 1, f"trial {trial}"
            assert_one_turn(one, two, f"race-{trial}")
            texts.append(one.text)
        reply = await s.stub.GetSession(
            pb.GetSessionRequest(session_id=session_id, recent_turn_limit=100)
        )
    session = reply.session
    assert session.turn_count == TRIALS
    stored = session.recent_turns
    assert [t.turn_id for t in stored] == [f"race-{i}" for i in range(TRIALS - 100, TRIALS)]
    assert [t.text for t in stored] == texts[-100:]
    assert {t.status for t in stored} == {session_pb2.TURN_STATUS_COMPLETED}


async def test_one_turn_id_in_two_sessions_is_two_turns(tmp_path: Path) -> None:
    """Concurrent turns with one id in two sessions: neither joins, replays or overwrites the
    other, and neither call can tell that the id exists elsewhere."""
    trials = 60
    async with serve(settings(tmp_path)) as s:
        mine = await new_session(s.stub, seed=1)
        theirs = await new_session(s.stub, seed=2)
        got: dict[str, list[Collected]] = {mine: [], theirs: []}
        for trial in range(trials):
            turn_id = f"shared-{trial}"
            a, b = await asyncio.gather(
                collect(s.stub.Narrate(request("Narrate", mine, turn_id))),
                collect(s.stub.Narrate(request("Narrate", theirs, turn_id))),
            )
            for session_id, stream in ((mine, a), (theirs, b)):
                assert not stream.of("started")[0].resumed  # a new turn here, whatever exists
                assert stream.events[-1] == "completed"
                got[session_id].append(stream)
        for session_id in (mine, theirs):
            reply = await s.stub.GetSession(
                pb.GetSessionRequest(session_id=session_id, recent_turn_limit=100)
            )
            session = reply.session
            assert session.turn_count == trials
            assert [t.text for t in session.recent_turns] == [c.text for c in got[session_id]]
            assert [t.turn_id for t in session.recent_turns] == [
                f"shared-{i}" for i in range(trials)
            ]
    assert [c.text for c in got[mine]] != [c.text for c in got[theirs]]  # really two stories
