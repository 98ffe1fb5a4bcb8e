"""A cancelled stream leaves no reference cycle behind: its error's traceback would otherwise
keep the call's frames (its span, its audit record, what they hold) alive until the
collector's next full pass, and under load that is memory the server does not give back.
(An aborted call still does: gRPC keeps the abort's exception in the call's state, which the
frames of its traceback hold.)"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator_server.api.interceptor import _Rpc

from ..support import new_session, serve, settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


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
