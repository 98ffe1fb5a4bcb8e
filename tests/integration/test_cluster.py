"""Replicas as processes behind nginx, on the run's PostgreSQL and Redis: kill -9 mid-turn,
resume through another replica; watch from any replica; sessions and streams through the load
balancer."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import session_pb2, turn_pb2
from narrator_server.testing.cluster import Cluster

from ..support import assert_stream_order, collect, new_session
from .test_resume import narrate, read_deltas

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[Cluster]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NARRATOR_"))}
    env |= {"NARRATOR_OFFLINE_PACE_MS": "60", "NARRATOR_TELEMETRY": "false",
            "NARRATOR_LEASE_S": "1.5"}  # fmt: skip
    running = Cluster(tmp_path, replicas=2, env=env, database_url=postgres_url, redis_url=redis_url)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def stubs(cluster: Cluster) -> AsyncIterator[list[pb_grpc.NarratorServiceStub]]:
    """A stub for the load balancer, then one per replica."""
    assert cluster.lb is not None
    addresses = [cluster.lb.address, *(r.address for r in cluster.nodes)]
    channels = [grpc.aio.insecure_channel(a) for a in addresses]
    yield [pb_grpc.NarratorServiceStub(c) for c in channels]
    for channel in channels:
        await channel.close()


async def test_a_turn_survives_kill_9_of_its_replica(
    cluster: Cluster, stubs: list[pb_grpc.NarratorServiceStub]
) -> None:
    lb, a, b = stubs
    session_id = await new_session(lb)
    first = a.Narrate(narrate(session_id, "turn-1"))
    head = await read_deltas(first, 3)
    cluster.kill(cluster.nodes[0])
    killed = time.monotonic()
    resumed = b.Narrate(narrate(session_id, "turn-1", after=3))
    stream = aiter(resumed)
    started = await anext(stream)
    next_delta = await anext(stream)
    pause = time.monotonic() - killed
    rest = await collect(stream)
    session = (await lb.GetSession(pb.GetSessionRequest(session_id=session_id))).session
    print(f"takeover: next delta {pause:.2f} s after kill -9")
    assert started.started.resumed
    deltas = [next_delta.delta, *rest.of("delta")]
    assert [d.seq for d in deltas] == list(range(4, 4 + len(deltas)))
    completed = rest.of("completed")[0]
    said = "".join(m.delta.text for m in head[1:])
    assert said + "".join(d.text for d in deltas) == completed.text
    (recovery,) = completed.recoveries
    assert recovery.reason == turn_pb2.RECOVERY_REASON_TAKEOVER
    assert recovery.after_seq >= 3
    assert session.turn_count == 1  # stored once
    (turn,) = session.recent_turns
    assert turn.status == session_pb2.TURN_STATUS_COMPLETED
    assert turn.text == completed.text
    assert list(turn.recoveries) == list(completed.recoveries)


async def test_sessions_streams_and_watchers_work_from_any_replica_and_through_nginx(
    stubs: list[pb_grpc.NarratorServiceStub],
) -> None:
    lb, a, b = stubs
    session_id = await new_session(a)
    watch = b.WatchSession(pb.WatchSessionRequest(session_id=session_id))
    through_lb = await collect(lb.Narrate(narrate(session_id)))
    seen = []
    async for message in watch:
        seen.append(message)
        if message.WhichOneof("event") == "completed":
            break
    watch.cancel()
    on_b = await collect(b.Narrate(narrate(session_id)))
    session = (await lb.GetSession(pb.GetSessionRequest(session_id=session_id))).session
    assert_stream_order(through_lb)
    assert_stream_order(on_b)
    assert [m.WhichOneof("event") for m in seen] == through_lb.events
    assert "".join(m.delta.text for m in seen if m.delta.text) == through_lb.text
    assert session.turn_count == 2
