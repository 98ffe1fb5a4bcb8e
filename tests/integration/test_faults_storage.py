"""Storage faults while serving: a full disk mid-turn, a damaged page, an unreadable row. The
caller gets UNAVAILABLE with RetryInfo (never INTERNAL), no turn is lost, and health says
NOT_SERVING while the store cannot write (issue 8, item 11)."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2
from narrator_server.testing.replies import Reply

from ..support import SCENE, collect, details, new_session, serve, settings
from .faults_support import NOT_SERVING, SERVING, PageLimit, SmallTmpfs, damage_page, health
from .test_upstream_turns import upstream_settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

# Long enough to need pages the database does not have yet.
LONG = " ".join(f"word{i}" for i in range(8000)) + "."


@pytest.fixture(params=["max_page_count", "tmpfs"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PageLimit | SmallTmpfs]:
    if request.param == "max_page_count":
        yield PageLimit(tmp_path)
        return
    with SmallTmpfs.mounted(tmp_path / "disk") as tmpfs:
        yield tmpfs


def narrate(session_id: str, turn_id: str = "", after: int = 0) -> pb.NarrateRequest:
    return pb.NarrateRequest(
        session_id=session_id, action="I dig", scene=SCENE, turn_id=turn_id,
        resume_after_seq=after,
    )  # fmt: skip


def assert_unavailable(error: grpc.aio.AioRpcError, words: str) -> None:
    assert error.code() is grpc.StatusCode.UNAVAILABLE, error
    assert words in str(error.details())
    (retry,) = [d for d in details(error) if d.DESCRIPTOR.name == "RetryInfo"]
    assert retry.retry_delay.seconds >= 1


async def read_all(call: Any) -> list[Any]:
    got = []
    while (message := await call.read()) is not grpc.aio.EOF:
        got.append(message)
    return got


async def the_turn(stub: Any, session_id: str) -> session_pb2.Turn:
    reply = await stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    (turn,) = reply.session.recent_turns
    return turn


@pytest.mark.parametrize("turn_id", ["", "resumable"])
async def test_a_disk_full_mid_turn_keeps_the_turn_and_stores_it_once_there_is_room(
    disk: PageLimit | SmallTmpfs, upstream: FakeOpenAI, turn_id: str
) -> None:
    gate = asyncio.Event()
    upstream.script(Reply(text=LONG, gate=gate))
    config = upstream_settings(disk.data_dir, upstream, inter_token_timeout_s=600, telemetry=False)
    async with serve(config) as s:
        session_id = await new_session(s.stub)
        call = s.stub.Narrate(narrate(session_id, turn_id))
        assert (await call.read()).WhichOneof("event") == "started"
        await disk.fill(s.app)
        gate.set()  # the turn ends now, with nowhere to go
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await read_all(call)
        assert_unavailable(caught.value, "disk is full")

        await s.app.check_health_now()
        assert await health(s.channel) == NOT_SERVING
        assert (await the_turn(s.stub, session_id)).status == session_pb2.TURN_STATUS_RUNNING
        if turn_id:  # not lost: the client that retries gets the whole turn
            again = await collect(s.stub.Narrate(narrate(session_id, turn_id)))
            assert again.of("started")[0].resumed
            assert again.text == LONG == again.of("completed")[0].text

        await disk.free(s.app)
        await s.app.check_health_now()
        assert await health(s.channel) == SERVING
        turn = await the_turn(s.stub, session_id)
        assert (turn.status, turn.text) == (session_pb2.TURN_STATUS_COMPLETED, LONG)
        assert s.app.narrator is not None
        assert not s.app.narrator.engine.unsaved
    assert len(upstream.received) == 1


async def test_a_new_turn_while_the_disk_is_full_is_unavailable_and_stores_nothing(
    disk: PageLimit | SmallTmpfs, upstream: FakeOpenAI
) -> None:
    config = upstream_settings(disk.data_dir, upstream, telemetry=False)
    async with serve(config) as s:
        session_id = await new_session(s.stub)
        await collect(s.stub.Narrate(narrate(session_id)))  # fills the pages the store has
        await disk.fill(s.app)
        upstream.script(Reply(text=LONG))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(narrate(session_id)))
        assert_unavailable(caught.value, "disk is full")
        await disk.free(s.app)
        await s.app.check_health_now()
        assert await health(s.channel) == SERVING
        reply = await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    statuses = [t.status for t in reply.session.recent_turns]
    # Either the claim itself failed (nothing stored) or the turn ran and was kept, then stored.
    assert statuses in (
        [session_pb2.TURN_STATUS_COMPLETED],
        [session_pb2.TURN_STATUS_COMPLETED] * 2,
    )


async def test_a_damaged_page_is_unavailable_and_not_serving(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        for _ in range(3):
            await collect(s.stub.Narrate(narrate(session_id)))
    damage_page(tmp_path / "narrator.sqlite3", "turns")

    async with serve(settings(tmp_path)) as s:
        for call in (
            s.stub.GetSession(pb.GetSessionRequest(session_id=session_id)),
            collect(s.stub.Narrate(narrate(session_id))),
            collect(s.stub.Narrate(narrate(session_id, "t-1"))),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert_unavailable(caught.value, "damaged")
        await s.app.check_health_now()
        assert await health(s.channel) == NOT_SERVING


async def test_a_row_this_server_cannot_read_is_unavailable_not_internal(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        await collect(s.stub.Narrate(narrate(session_id)))
    db = sqlite3.connect(tmp_path / "narrator.sqlite3")
    with db:
        db.execute("UPDATE turns SET scene = '{not json', status = 'exploded'")
    db.close()

    async with serve(settings(tmp_path)) as s:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        assert_unavailable(caught.value, "cannot read")
        await s.app.check_health_now()
        assert await health(s.channel) == SERVING  # the file itself is sound
