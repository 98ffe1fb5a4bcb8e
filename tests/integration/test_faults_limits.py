"""The stream cap holds for resumable turns: a turn whose caller left still runs, so it still
counts (issue 8, item 10)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2
from narrator_server.testing.replies import Reply

from ..support import SCENE, collect, details, new_session, serve
from .test_upstream_turns import upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.settings import Settings
    from narrator_server.testing.fake_openai import FakeOpenAI

CAP = 8
CALLS = 100
WORDS = " ".join(f"w{i}" for i in range(30)) + "."


def narrate(session_id: str, turn_id: str) -> pb.NarrateRequest:
    return pb.NarrateRequest(session_id=session_id, action="I wait", scene=SCENE, turn_id=turn_id)


def capped(tmp_path: Path, upstream: FakeOpenAI) -> Settings:
    # Turns outlive their callers for the whole test; the gate, not a timer, ends them.
    return upstream_settings(
        tmp_path, upstream, max_streams=CAP, resume_window_s=600, inter_token_timeout_s=600
    )


async def read_one_then_cancel(stub: Any, session_id: str, turn_id: str) -> Any:
    """One message (TurnStarted) or the refusal; then the caller hangs up."""
    call = stub.Narrate(narrate(session_id, turn_id))
    try:
        return await call.read()
    except grpc.aio.AioRpcError as error:
        return error
    finally:
        call.cancel()


def assert_refused(error: Any) -> None:
    assert isinstance(error, grpc.aio.AioRpcError), error
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    (retry,) = [d for d in details(error) if d.DESCRIPTOR.name == "RetryInfo"]
    assert retry.retry_delay.seconds + retry.retry_delay.nanos > 0


async def until_idle(app: Any) -> None:
    while app.open_streams() != (0, 0):  # noqa: ASYNC110 - no event for it; pytest-timeout guards
        await asyncio.sleep(0.01)


async def test_hung_up_resumable_turns_count_against_the_stream_cap(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    gate = asyncio.Event()
    upstream.default = Reply(text=WORDS, gate=gate)
    async with serve(capped(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        results = [await read_one_then_cancel(s.stub, session_id, f"t{i}") for i in range(CALLS)]
        started = [r for r in results if not isinstance(r, grpc.aio.AioRpcError)]
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(started) == CAP
        assert all(r.WhichOneof("event") == "started" for r in started)
        assert len(refused) == CALLS - CAP
        for error in refused:
            assert_refused(error)
        assert len(upstream.received) == CAP
        assert upstream.max_in_flight == CAP
        assert s.app.narrator is not None
        assert s.app.narrator.live_turns == CAP  # every caller left; every turn still runs

        # No stream is open now: what refuses the next turn is the running turns' cap.
        while s.app.open_streams()[0]:  # noqa: ASYNC110 - the server sees the hang-ups late
            await asyncio.sleep(0.01)
        error = await read_one_then_cancel(s.stub, session_id, "one-more")
        assert_refused(error)
        assert "running turns" in error.details()

        gate.set()  # the turns end; their slots are free again
        await until_idle(s.app)
        again = await collect(s.stub.Narrate(narrate(session_id, "after")))
        assert again.events[-1] == "completed"
        reply = await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    assert upstream.max_in_flight == CAP
    assert len(upstream.received) == CAP + 1
    assert reply.session.turn_count == CAP + 1  # refused calls stored nothing
    assert {t.status for t in reply.session.recent_turns} == {session_pb2.TURN_STATUS_COMPLETED}


async def test_a_burst_of_hung_up_turns_never_runs_more_upstream_requests_than_the_cap(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    gate = asyncio.Event()
    upstream.default = Reply(text=WORDS, gate=gate)
    async with serve(capped(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        results = await asyncio.gather(
            *(read_one_then_cancel(s.stub, session_id, f"b{i}") for i in range(CALLS))
        )
        started = [r for r in results if not isinstance(r, grpc.aio.AioRpcError)]
        for error in (r for r in results if isinstance(r, grpc.aio.AioRpcError)):
            assert_refused(error)
        assert 1 <= len(started) <= CAP
        assert len(upstream.received) == len(started)
        gate.set()
        await until_idle(s.app)
    assert upstream.max_in_flight <= CAP
