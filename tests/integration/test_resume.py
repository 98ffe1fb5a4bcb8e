"""Resumable turns (client-chosen turn_id + resume_after_seq) and load shedding."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2
from narrator_server.testing.replies import Reply

from ..support import SCENE, assert_stream_order, collect, details, new_session, serve, settings
from .test_upstream_turns import stored_turn, upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

WORDS = " ".join(f"w{i}" for i in range(40)) + "."


def narrate(session_id: str, turn_id: str = "", after: int = 0) -> pb.NarrateRequest:
    return pb.NarrateRequest(
        session_id=session_id,
        action="I listen",
        scene=SCENE,
        turn_id=turn_id,
        resume_after_seq=after,
    )


async def read_deltas(call: Any, count: int) -> list[Any]:
    got = []
    async for message in call:
        got.append(message)
        if message.WhichOneof("event") == "delta" and message.delta.seq == count:
            break
    return got


async def test_resuming_a_completed_turn_replays_it_without_a_model_request(
    tmp_path: Path, database_url: str, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=WORDS, usage=(90, 41)))
    async with serve(upstream_settings(tmp_path, upstream, database_url=database_url)) as s:
        session_id = await new_session(s.stub)
        first = await collect(s.stub.Narrate(narrate(session_id, "turn-1")))
        again = await collect(s.stub.Narrate(narrate(session_id, "turn-1", after=5)))
        session = (await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
    assert len(upstream.received) == 1
    assert again.events[0] == "started"
    assert again.of("started")[0].resumed
    assert again.of("started")[0].turn_id == "turn-1"
    assert [d.seq for d in again.of("delta")] == list(range(6, len(first.of("delta")) + 1))
    assert [d.text for d in again.of("delta")] == [d.text for d in first.of("delta")][5:]
    assert again.of("completed")[0] == first.of("completed")[0]
    assert session.turn_count == 1


async def test_resuming_a_live_turn_delivers_exactly_the_missing_deltas(
    tmp_path: Path, database_url: str, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.02))
    async with serve(upstream_settings(tmp_path, upstream, database_url=database_url)) as s:
        session_id = await new_session(s.stub)
        lost = s.stub.Narrate(narrate(session_id, "turn-live"))
        before = await read_deltas(lost, 3)
        lost.cancel()  # the connection drops mid-sentence
        again = await collect(s.stub.Narrate(narrate(session_id, "turn-live", after=3)))
        turn = await stored_turn(s.stub, session_id)
    assert len(upstream.received) == 1
    assert again.of("started")[0].resumed
    assert next(d.seq for d in again.of("delta")) == 4
    assert_stream_order_from(again, 4)
    text = "".join(m.delta.text for m in before[1:]) + again.text
    assert text == again.of("completed")[0].text == WORDS
    assert turn.status == session_pb2.TURN_STATUS_COMPLETED


def assert_stream_order_from(got: Any, first_seq: int) -> None:
    seqs = [d.seq for d in got.of("delta")]
    assert seqs == list(range(first_seq, first_seq + len(seqs)))
    assert got.events[-1] == "completed"


async def test_two_followers_see_the_same_turn(tmp_path: Path, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(text=WORDS, pace=0.01))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        one, two = await asyncio.gather(
            collect(s.stub.Narrate(narrate(session_id, "shared"))),
            collect(s.stub.Narrate(narrate(session_id, "shared"))),
        )
    assert one.text == two.text == WORDS
    assert len(upstream.received) == 1


async def test_an_abandoned_resumable_turn_is_cancelled_after_the_window(
    tmp_path: Path, database_url: str, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.05))
    async with serve(
        upstream_settings(tmp_path, upstream, resume_window_s=0.2, database_url=database_url)
    ) as s:
        session_id = await new_session(s.stub)
        call = s.stub.Narrate(narrate(session_id, "gone"))
        await read_deltas(call, 1)
        call.cancel()
        await upstream.received[0].client_disconnected.wait()
        turn = await stored_turn(s.stub, session_id)
        assert turn.status == session_pb2.TURN_STATUS_CANCELLED
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(narrate(session_id, "gone", after=1)))
    assert caught.value.code() is grpc.StatusCode.ABORTED
    assert upstream.received[0].chunks_sent < 41


async def test_turn_ids_are_scoped_to_their_session(tmp_path: Path, database_url: str) -> None:
    """The same turn id in another session is another turn: no oracle, no overwrite."""
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        mine, theirs = await new_session(s.stub), await new_session(s.stub)
        first = await collect(s.stub.Narrate(narrate(mine, "t-1")))
        other = await collect(s.stub.Narrate(narrate(theirs, "t-1", after=2)))
        assert not other.of("started")[0].resumed
        assert_stream_order(other)
        for session_id, got in ((mine, first), (theirs, other)):
            reply = await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
            (turn,) = reply.session.recent_turns
            assert (turn.turn_id, turn.text) == ("t-1", got.text)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(narrate(mine, "bad id!")))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_decide_is_resumable_too(tmp_path: Path, database_url: str) -> None:
    request = pb.DecideRequest(question="Now?", scene=SCENE, turn_id="d-1")
    request.options.add(id="wait", description="wait")
    async with serve(settings(tmp_path, database_url=database_url)) as s:
        request.session_id = await new_session(s.stub)
        first = await collect(s.stub.Decide(request))
        last = len(first.of("delta"))
        request.resume_after_seq = last - 1
        again = await collect(s.stub.Decide(request))
    assert_stream_order(first, decision=True)
    assert again.of("decision") == first.of("decision")
    assert [(d.seq, d.text) for d in again.of("delta")] == [(last, first.of("delta")[-1].text)]


async def test_past_the_stream_limit_a_call_is_refused_at_once(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, max_streams=1, offline_pace_ms=50)) as s:
        session_id = await new_session(s.stub)
        running = s.stub.Narrate(narrate(session_id))
        await read_deltas(running, 1)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(narrate(session_id)))
        running.cancel()
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details(caught.value)[0].retry_delay.seconds == 1


async def test_past_the_upstream_limit_the_offline_narrator_or_an_error_answers(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=WORDS, pace=0.05), Reply(text=WORDS, pace=0.05))
    for fallback, expected in ((True, "offline"), (False, grpc.StatusCode.RESOURCE_EXHAUSTED)):
        config = upstream_settings(
            tmp_path / str(fallback), upstream, max_upstream_requests=1, fallback=fallback
        )
        async with serve(config) as s:
            session_id = await new_session(s.stub)
            running = s.stub.Narrate(narrate(session_id))
            await read_deltas(running, 1)
            if fallback:
                got = await collect(s.stub.Narrate(narrate(session_id)))
                assert got.of("started")[0].provider == expected
            else:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await collect(s.stub.Narrate(narrate(session_id)))
                assert caught.value.code() is expected
            running.cancel()


async def test_a_new_turn_starts_at_seq_one_whatever_resume_after_seq_says(
    tmp_path: Path,
) -> None:
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id, "fresh", after=3)))
    assert not got.of("started")[0].resumed
    assert_stream_order(got)


async def test_a_turn_id_names_one_kind_of_turn(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        await collect(s.stub.Narrate(narrate(session_id, "told")))
        decide = pb.DecideRequest(session_id=session_id, question="Now?", turn_id="told")
        decide.options.add(id="wait")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Decide(decide))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "narration" in details(caught.value)[0].field_violations[0].description
