"""Resumable turns on the turn engine, end to end: the resume window, rejoining mid-turn, and
deltas merged for a slow reader."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2
from narrator_server.testing.replies import Reply

from ..support import SCENE, collect, new_session, serve
from .test_upstream_turns import upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

WORDS = " ".join(f"w{i}" for i in range(60)) + "."
WINDOW = 1.0
RUNNING = session_pb2.TURN_STATUS_RUNNING


def narrate(session_id: str, turn_id: str, after: int = 0) -> pb.NarrateRequest:
    return pb.NarrateRequest(
        session_id=session_id, action="I wait", scene=SCENE, turn_id=turn_id,
        resume_after_seq=after,
    )  # fmt: skip


async def read_until_delta(call: Any) -> list[Any]:
    """Messages up to and including the first delta."""
    got = []
    while (message := await call.read()) is not grpc.aio.EOF:
        got.append(message)
        if message.WhichOneof("event") == "delta":
            return got
    raise AssertionError("the stream ended before a delta")


async def turn_status(stub: Any, session_id: str, turn_id: str) -> int:
    reply = await stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    return next(t.status for t in reply.session.recent_turns if t.turn_id == turn_id)


async def test_the_resume_window_counts_from_the_last_follower_leaving(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    gate = asyncio.Event()  # never opened: only the window can end this turn
    upstream.script(Reply(text=WORDS, gate=gate))
    config = upstream_settings(
        tmp_path, upstream, resume_window_s=WINDOW, inter_token_timeout_s=600
    )
    loop = asyncio.get_running_loop()
    async with serve(config) as s:
        session_id = await new_session(s.stub)
        first = s.stub.Narrate(narrate(session_id, "w"))
        await read_until_delta(first)
        first.cancel()
        await asyncio.sleep(WINDOW * 0.3)
        second = s.stub.Narrate(narrate(session_id, "w", after=1))
        started = await second.read()
        assert started.started.resumed
        await asyncio.sleep(WINDOW * 0.3)
        second.cancel()
        left = loop.time()
        while await turn_status(s.stub, session_id, "w") == RUNNING:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        waited = loop.time() - left
        assert await turn_status(s.stub, session_id, "w") == session_pb2.TURN_STATUS_CANCELLED
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(narrate(session_id, "w", after=1)))
    assert waited >= WINDOW  # a full window after the last caller left, not after the first
    assert caught.value.code() is grpc.StatusCode.ABORTED
    assert "cancelled" in str(caught.value.details())
    assert len(upstream.received) == 1


async def test_a_rejoining_follower_gets_exactly_the_missing_deltas(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    gate = asyncio.Event()
    upstream.script(Reply(text=WORDS, gate=gate, gate_after=10))
    async with serve(upstream_settings(tmp_path, upstream, inter_token_timeout_s=600)) as s:
        session_id = await new_session(s.stub)
        lost = s.stub.Narrate(narrate(session_id, "r"))
        before = await read_until_delta(lost)
        lost.cancel()  # the connection drops after seq 1
        (had,) = [m.delta for m in before if m.WhichOneof("event") == "delta"]
        again = s.stub.Narrate(narrate(session_id, "r", after=had.seq))
        opening = await again.read()
        gate.set()
        rest = []
        while (message := await again.read()) is not grpc.aio.EOF:
            rest.append(message)
        from_start = await collect(s.stub.Narrate(narrate(session_id, "r")))
    assert opening.started.resumed
    deltas = [m.delta for m in rest if m.WhichOneof("event") == "delta"]
    assert [d.seq for d in deltas] == list(range(had.seq + 1, had.seq + 1 + len(deltas)))
    assert had.text + "".join(d.text for d in deltas) == WORDS
    assert rest[-1].completed.text == WORDS
    # Anyone replaying the turn sees the very same deltas, seq for seq.
    replayed = [(d.seq, d.text) for d in from_start.of("delta")]
    assert replayed == [(had.seq, had.text)] + [(d.seq, d.text) for d in deltas]
    assert len(upstream.received) == 1


async def test_a_slow_reader_gets_merged_deltas_with_contiguous_seq(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    words = " ".join(f"w{i}" for i in range(5000)) + "."
    upstream.script(Reply(text=words))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        call = s.stub.Narrate(narrate(session_id, "slow"))
        first = await call.read()
        await upstream.received[0].finished.wait()  # the model is done; the reader is not
        got = [first]
        while (message := await call.read()) is not grpc.aio.EOF:
            got.append(message)
        replayed = await collect(s.stub.Narrate(narrate(session_id, "slow")))
    deltas = [m.delta for m in got if m.WhichOneof("event") == "delta"]
    chunks = len(upstream.received[0].reply.pieces())
    assert len(deltas) < chunks // 2  # merged while the reader was away
    assert [d.seq for d in deltas] == list(range(1, len(deltas) + 1))
    assert "".join(d.text for d in deltas) == words == got[-1].completed.text
    assert [(d.seq, d.text) for d in replayed.of("delta")] == [(d.seq, d.text) for d in deltas]
