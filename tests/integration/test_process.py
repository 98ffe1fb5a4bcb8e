"""`python -m narrator_server` as a process: settings from the environment, SIGTERM drains."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import session_pb2

from ..support import SCENE, new_session

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    Launch = Callable[
        ..., Awaitable[tuple[asyncio.subprocess.Process, pb_grpc.NarratorServiceStub]]
    ]


async def start(
    data_dir: Path, stderr: int | None = None, **env: str
) -> tuple[asyncio.subprocess.Process, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NARRATOR_"))}
    environ |= {
        "NARRATOR_PORT": "0",
        "NARRATOR_METRICS_PORT": "-1",
        "NARRATOR_DATA_DIR": str(data_dir),
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "narrator_server", env=environ, stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )  # fmt: skip
    assert process.stdout is not None
    line = (await process.stdout.readline()).decode()
    assert line.startswith("narrator listening on "), line
    return process, line.split()[-1]


@pytest.fixture
async def launch(tmp_path: Path) -> AsyncIterator[Launch]:
    """Starts servers on `tmp_path` with extra settings; closes and stops them afterwards."""
    opened: list[tuple[asyncio.subprocess.Process, grpc.aio.Channel]] = []

    async def run(**env: str) -> tuple[asyncio.subprocess.Process, pb_grpc.NarratorServiceStub]:
        process, address = await start(tmp_path, **env)
        channel = grpc.aio.insecure_channel(address)
        opened.append((process, channel))
        return process, pb_grpc.NarratorServiceStub(channel)

    yield run
    for process, channel in opened:
        await channel.close()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def turn_under_way(stub: pb_grpc.NarratorServiceStub) -> tuple[str, Any]:
    """A session and a Narrate call that has delivered its TurnStarted."""
    session_id = await new_session(stub)
    call = stub.Narrate(pb.NarrateRequest(session_id=session_id, action="I run", scene=SCENE))
    await call.read()
    return session_id, call


async def test_sigterm_lets_a_stream_finish_within_the_grace(launch: Launch) -> None:
    process, stub = await launch(NARRATOR_OFFLINE_PACE_MS="5", NARRATOR_SHUTDOWN_GRACE_S="30")
    _, call = await turn_under_way(stub)
    process.send_signal(signal.SIGTERM)
    kinds = []
    while (message := await call.read()) is not grpc.aio.EOF:
        kinds.append(message.WhichOneof("event"))
    assert kinds[-1] == "completed"
    assert await process.wait() == 0


async def test_sigterm_past_the_grace_stores_the_turn_as_cancelled(launch: Launch) -> None:
    process, stub = await launch(NARRATOR_OFFLINE_PACE_MS="200", NARRATOR_SHUTDOWN_GRACE_S="0.1")
    session_id, call = await turn_under_way(stub)
    process.send_signal(signal.SIGTERM)
    with pytest.raises(grpc.aio.AioRpcError):
        while await call.read() is not grpc.aio.EOF:
            pass
    assert await process.wait() == 0

    process, stub = await launch()
    session = (await stub.GetSession(pb.GetSessionRequest(session_id=session_id))).session
    assert session.recent_turns[0].status == session_pb2.TURN_STATUS_CANCELLED
    process.send_signal(signal.SIGINT)
    assert await process.wait() == 0


async def test_a_bad_setting_stops_the_process_with_a_clear_message(tmp_path: Path) -> None:
    environ = dict(os.environ, NARRATOR_FALLBACK="maybe", NARRATOR_DATA_DIR=str(tmp_path))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "narrator_server", env=environ, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    assert process.returncode == 1
    assert b"narrator: NARRATOR_FALLBACK: input should be a valid boolean" in err
    assert b"Traceback" not in err


@pytest.mark.parametrize(("choice", "runs_on"), [("auto", "uvloop"), ("asyncio", "asyncio")])
async def test_the_server_serves_on_the_event_loop_it_is_set_to(
    tmp_path: Path, choice: str, runs_on: str
) -> None:
    process, address = await start(
        tmp_path,
        asyncio.subprocess.PIPE,
        NARRATOR_EVENT_LOOP=choice,
        NARRATOR_LOG_FORMAT="json",
        NARRATOR_OFFLINE_PACE_MS="0",
    )
    assert process.stderr is not None
    try:
        while b'"serving"' not in (line := await process.stderr.readline()):
            assert line, "the server ended before it said it was serving"
        assert json.loads(line)["event_loop"] == runs_on
        drain = asyncio.ensure_future(process.stderr.read())  # the pipe must not fill up
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.NarratorServiceStub(channel)
            _, call = await turn_under_way(stub)
            kinds = []
            while (message := await call.read()) is not grpc.aio.EOF:
                kinds.append(message.WhichOneof("event"))
        assert kinds[-1] == "completed"
        assert "delta" in kinds
        process.send_signal(signal.SIGTERM)
        assert await process.wait() == 0
        await drain
    finally:
        if process.returncode is None:  # a failed assertion leaves no server behind
            process.kill()
            await process.wait()
