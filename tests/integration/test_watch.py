"""WatchSession through a real server: every turn of a session as it happens."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2
from narrator_server.testing.replies import Reply

from ..support import SCENE, collect, new_session, serve, settings
from .test_upstream_turns import OPTIONS, upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI


async def registered(s: Any, session_id: str) -> None:
    """Waits until the server holds the watch (so no turn starts before it)."""
    for _ in range(2000):
        if s.app.turn_log.watching(session_id):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the watch never registered")


class Watcher:
    """Reads a WatchSession stream in the background, keeping every message."""

    def __init__(self, stub: Any, session_id: str) -> None:
        self.call = stub.WatchSession(pb.WatchSessionRequest(session_id=session_id))
        self.messages: list[pb.WatchSessionResponse] = []
        self.error: grpc.aio.AioRpcError | None = None
        self.changed = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.call:
                self.messages.append(message)
                self.changed.set()
        except grpc.aio.AioRpcError as error:
            self.error = error
        self.changed.set()

    async def until(self, done: Any) -> None:
        while not done(self):
            if self.task.done():
                raise AssertionError(f"the watch ended early: {self.error}")
            self.changed.clear()
            await self.changed.wait()

    def turn(self, turn_id: str) -> list[pb.WatchSessionResponse]:
        return [m for m in self.messages if m.turn_id == turn_id]

    def ended(self, turn_id: str) -> bool:
        kinds = [m.WhichOneof("event") for m in self.turn(turn_id)]
        return "completed" in kinds or "ended" in kinds


async def test_a_watcher_sees_each_turn_as_narrated(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        session_id = await new_session(s.stub)
        watcher = Watcher(s.stub, session_id)
        await registered(s, session_id)
        told = await collect(
            s.stub.Narrate(
                pb.NarrateRequest(session_id=session_id, action="I light a torch", scene=SCENE)
            )
        )
        turn_id = told.of("started")[0].turn_id
        await watcher.until(lambda w: w.ended(turn_id))
        seen = watcher.turn(turn_id)
        kinds = [m.WhichOneof("event") for m in seen]
        assert kinds[0] == "started"
        assert kinds[-1] == "completed"
        assert seen[0].input == "I light a torch"
        assert seen[0].kind == session_pb2.TURN_KIND_NARRATION
        deltas = [m.delta for m in seen if m.WhichOneof("event") == "delta"]
        assert [d.seq for d in deltas] == list(range(1, len(deltas) + 1))
        assert "".join(d.text for d in deltas) == told.text == seen[-1].completed.text
        watcher.call.cancel()


async def test_a_watcher_sees_decisions_and_joins_running_turns_from_their_start(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    reply = Reply.decision("flee", {}, "Grub sees the odds and bolts for the tunnel.")
    reply.pace = 0.02
    upstream.script(reply)
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        request = pb.DecideRequest(
            session_id=session_id,
            question="What does Grub do?",
            options=OPTIONS,
            scene=SCENE,
            turn_id="d-1",
        )
        call = s.stub.Decide(request)
        async for message in call:
            if message.WhichOneof("event") == "delta":
                break  # the turn is running; a watcher joins now
        watcher = Watcher(s.stub, session_id)
        rest = await collect(call)
        await watcher.until(lambda w: w.ended("d-1"))
        seen = watcher.turn("d-1")
        kinds = [m.WhichOneof("event") for m in seen]
        assert kinds[0] == "started"
        assert kinds[-2:] == ["decision", "completed"]
        assert seen[-2].decision.option_id == "flee"
        text = "".join(m.delta.text for m in seen if m.WhichOneof("event") == "delta")
        assert text == seen[-1].completed.text == rest.of("completed")[0].text
        watcher.call.cancel()


async def test_a_cancelled_turn_ends_for_watchers_and_deleting_the_session_ends_the_watch(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(text=" ".join(f"w{i}" for i in range(200)), pace=0.02))
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        watcher = Watcher(s.stub, session_id)
        await registered(s, session_id)
        call = s.stub.Narrate(
            pb.NarrateRequest(session_id=session_id, action="I wait", scene=SCENE)
        )
        turn_id = ""
        async for message in call:
            if message.WhichOneof("event") == "started":
                turn_id = message.started.turn_id
            if message.WhichOneof("event") == "delta":
                break
        call.cancel()
        await watcher.until(lambda w: w.ended(turn_id))
        last = watcher.turn(turn_id)[-1]
        assert last.WhichOneof("event") == "ended"
        assert last.ended.status == session_pb2.TURN_STATUS_CANCELLED
        await s.stub.DeleteSession(pb.DeleteSessionRequest(session_id=session_id))
        await watcher.task
        assert watcher.error is None  # the stream ended with OK


async def test_watching_needs_an_existing_session(tmp_path: Path) -> None:
    async with serve(settings(tmp_path)) as s:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.WatchSession(pb.WatchSessionRequest(session_id="nope")))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND
