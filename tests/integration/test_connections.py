"""Connections: a maximum age spreads long-lived clients over new replicas."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import grpc

from ..support import collect, new_session, serve, settings
from .test_resume import narrate

if TYPE_CHECKING:
    from pathlib import Path


async def test_an_old_connection_is_closed_gracefully_and_its_stream_finishes(
    tmp_path: Path,
) -> None:
    config = settings(tmp_path, max_connection_age_s=0.3, offline_pace_ms=30)
    async with serve(config) as s:
        session_id = await new_session(s.stub)
        got = await collect(s.stub.Narrate(narrate(session_id)))  # outlives the age: grace
        await asyncio.sleep(0.5)
        state = s.channel.get_state(try_to_connect=False)
        again = await collect(s.stub.Narrate(narrate(session_id)))  # a new connection
    assert got.events[-1] == again.events[-1] == "completed"
    assert state is not grpc.ChannelConnectivity.READY  # the server said GOAWAY
