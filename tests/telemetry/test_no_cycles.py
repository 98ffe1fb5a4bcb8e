"""A cancelled stream leaves no reference cycle behind: its error's traceback would otherwise
keep the call's frames (its span, its audit record, what they hold) alive until the
collector's next full pass, and under load that is memory the server does not give back.
(An aborted call still does: gRPC keeps the abort's exception in the call's state, which the
frames of its traceback hold.)"""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING

import grpc
import pytest
from tenacity import RetryCallState

from narrator.v1 import narrator_service_pb2 as pb
from narrator_server.api.interceptor import _Rpc
from narrator_server.testing.replies import Reply

from ..integration.test_faults_limits import until_idle
from ..integration.test_upstream_turns import upstream_settings
from ..support import new_session, serve, settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """What the collector finds unreachable from here on (kept, so it can be inspected)."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_cancelled_streams_leave_no_call_record_in_a_cycle(
    tmp_path: Path, saved_garbage: list[object]
) -> None:
    async with serve(settings(tmp_path)) as running:
        stub = running.stub
        session_id = await new_session(stub)
        for _ in range(3):
            call = stub.Narrate(pb.NarrateRequest(session_id=session_id, action="I wait"))
            async for message in call:
                assert message.WhichOneof("event") == "started"
                call.cancel()
                break
        gc.collect()
        assert [x for x in saved_garbage if isinstance(x, _Rpc)] == []


async def test_a_turn_cancelled_while_the_upstream_opens_leaves_nothing_of_it_in_a_cycle(
    tmp_path: Path, upstream: FakeOpenAI, saved_garbage: list[object]
) -> None:
    upstream.script(*[Reply(text="Too late.", first_byte_delay=5.0)] * 3)
    async with serve(upstream_settings(tmp_path, upstream)) as running:
        session_id = await new_session(running.stub)
        for i in range(3):
            call = running.stub.Narrate(pb.NarrateRequest(session_id=session_id, action="I wait"))
            # Its request is out: the turn waits on the upstream's first byte.
            while len(upstream.received) < i + 1:  # noqa: ASYNC110 - no event for it
                await asyncio.sleep(0.01)
            call.cancel()
            assert await call.code() is grpc.StatusCode.CANCELLED
        await until_idle(running.app)  # the server side ended each turn
        gc.collect()
        # tenacity's controller and state refer to each other (freed by the collector), but
        # they keep no error, so nothing of the call (its frames, its record) with them.
        states = [x for x in saved_garbage if isinstance(x, RetryCallState)]
        assert states
        assert all(s.outcome is None for s in states)
        assert [x for x in saved_garbage if isinstance(x, _Rpc)] == []
