"""`python -m narrator_server` against broken surroundings: a data dir it cannot use, a busy
port, bad settings, a kill -9 mid-turn. Each startup failure is one line on stderr (what,
where, what to do) and a non-zero exit, never a traceback (issue 8, items 11, 12, 16)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from typing import TYPE_CHECKING

import grpc
import pytest

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import session_pb2
from narrator_server.testing.replies import Reply

from ..support import collect, new_session, serve, settings
from .faults_support import SmallTmpfs, read_only
from .test_process import start

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

    # Sets up a data dir (and undoes what needs undoing afterwards).
    Prepare = Callable[[Path], contextlib.AbstractAsyncContextManager[None]]


def environment(data_dir: Path, **env: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NARRATOR_"))}
    return environ | {
        "NARRATOR_PORT": "0",
        "NARRATOR_METRICS_PORT": "-1",
        "NARRATOR_DATA_DIR": str(data_dir),
        **env,
    }


async def attempt_start(data_dir: Path, **env: str) -> tuple[int | None, str, str]:
    """Runs the server; returns its exit code, stdout and stderr. A server that starts
    listening instead is stopped and reported with code None."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "narrator_server", env=environment(data_dir, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    first = (await process.stdout.readline()).decode()
    if first.startswith("narrator listening"):
        process.kill()
        await process.wait()
        return None, first, ""
    out, err = await process.communicate()
    return await process.wait(), first + out.decode(), err.decode()


def assert_one_line(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], lines[0]


async def real_database(data_dir: Path) -> Path:
    """A database written by the server itself: sessions and turns across several pages."""
    async with serve(settings(data_dir)) as s:
        for _ in range(3):
            session_id = await new_session(s.stub)
            for _ in range(4):
                await collect(
                    s.stub.Narrate(pb.NarrateRequest(session_id=session_id, action="I go"))
                )
    return data_dir / "narrator.sqlite3"


def write(path: Path, content: bytes, *, directory: bool = False) -> None:
    if directory:
        path.parent.mkdir()
    path.write_bytes(content)


@contextlib.asynccontextmanager
async def garbage(data_dir: Path) -> AsyncIterator[None]:
    write(data_dir / "narrator.sqlite3", bytes(range(256)) * 400, directory=True)
    yield


@contextlib.asynccontextmanager
async def cut_in_half(data_dir: Path) -> AsyncIterator[None]:
    path = await real_database(data_dir)
    os.truncate(path, path.stat().st_size // 2)
    yield


@contextlib.asynccontextmanager
async def torn_last_page(data_dir: Path) -> AsyncIterator[None]:
    path = await real_database(data_dir)
    os.truncate(path, path.stat().st_size - 100)
    yield


@contextlib.asynccontextmanager
async def a_file(data_dir: Path) -> AsyncIterator[None]:
    write(data_dir, b"not a directory")
    yield


@contextlib.asynccontextmanager
async def read_only_empty_dir(data_dir: Path) -> AsyncIterator[None]:
    os.mkdir(data_dir)
    with read_only(data_dir):
        yield


@contextlib.asynccontextmanager
async def read_only_dir(data_dir: Path) -> AsyncIterator[None]:
    await real_database(data_dir)
    with read_only(data_dir):
        yield


@contextlib.asynccontextmanager
async def read_only_file(data_dir: Path) -> AsyncIterator[None]:
    path = await real_database(data_dir)
    with read_only(path):
        yield


@contextlib.asynccontextmanager
async def newer_schema(data_dir: Path) -> AsyncIterator[None]:
    path = await real_database(data_dir)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    yield


@contextlib.asynccontextmanager
async def full_disk(data_dir: Path) -> AsyncIterator[None]:
    with SmallTmpfs.mounted(data_dir) as tmpfs:
        tmpfs.fill_now()
        yield


@contextlib.asynccontextmanager
async def in_use(data_dir: Path) -> AsyncIterator[None]:
    process, _ = await start(data_dir)
    try:
        yield
    finally:
        process.kill()
        await process.wait()


STARTUP_FAILURES: dict[str, tuple[Prepare, tuple[str, ...]]] = {
    "garbage file": (garbage, ("not a Narrator database", "restore it from a backup")),
    "truncated file": (cut_in_half, ("damaged", "restore it from a backup")),
    "torn last page": (torn_last_page, ("truncated", "restore it from a backup")),
    "data dir is a file": (a_file, ("NARRATOR_DATA_DIR is a file",)),
    "read-only empty data dir": (read_only_empty_dir, ("writable",)),
    "read-only data dir": (read_only_dir, ("writable",)),
    "read-only database file": (read_only_file, ("read-only", "writable")),
    "newer schema": (newer_schema, ("newer than this server", "run a newer server")),
    "full disk": (full_disk, ("disk is full", "free some space")),
    "another server on it": (in_use, ("another narrator server", "NARRATOR_DATA_DIR")),
}


@pytest.mark.parametrize("case", STARTUP_FAILURES)
async def test_a_data_dir_it_cannot_use_stops_the_start_with_one_line(
    tmp_path: Path, case: str
) -> None:
    prepare, words = STARTUP_FAILURES[case]
    data_dir = tmp_path / "data"
    async with prepare(data_dir):
        code, out, err = await attempt_start(data_dir)
    assert code == 1, out + err
    assert out == ""
    where = f"cannot open the database {data_dir / 'narrator.sqlite3'}: "
    assert_one_line(err, "narrator: " + where, *words)


async def test_kill_9_mid_turn_leaves_it_running_and_the_next_start_marks_it_interrupted(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    gate = asyncio.Event()  # the upstream never finishes this turn
    upstream.script(Reply(text="The floor gives way beneath", gate=gate))
    upstream_env = {
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-test",
        "NARRATOR_INTER_TOKEN_TIMEOUT_S": "600",
    }
    process, address = await start(tmp_path, **upstream_env)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.NarratorServiceStub(channel)
        session_id = await new_session(stub)
        request = pb.NarrateRequest(session_id=session_id, action="I jump", turn_id="doomed")
        call = stub.Narrate(request)
        assert (await call.read()).WhichOneof("event") == "started"
        assert (await call.read()).WhichOneof("event") == "delta"
        process.send_signal(signal.SIGKILL)
        assert await process.wait() == -signal.SIGKILL
        with pytest.raises(grpc.aio.AioRpcError):
            await call.read()

    db = sqlite3.connect(tmp_path / "narrator.sqlite3")
    (status,) = db.execute("SELECT status FROM turns WHERE id = 'doomed'").fetchone()
    db.close()
    assert status == "running"  # recorded when it started

    process, address = await start(tmp_path)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.NarratorServiceStub(channel)
            request.resume_after_seq = 1
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await collect(stub.Narrate(request))
            reply = await stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    finally:
        process.send_signal(signal.SIGTERM)
        assert await process.wait() == 0
    assert caught.value.code() is grpc.StatusCode.ABORTED
    assert "interrupted" in str(caught.value.details())
    assert "new turn_id" in str(caught.value.details())
    (turn,) = reply.session.recent_turns
    assert (turn.turn_id, turn.status) == ("doomed", session_pb2.TURN_STATUS_INTERRUPTED)
    assert len(upstream.received) == 1  # resuming did not start the turn again


async def test_a_second_server_on_a_busy_port_fails_at_once(tmp_path: Path) -> None:
    first, address = await start(tmp_path / "one")
    try:
        port = address.rsplit(":", 1)[1]
        code, out, err = await attempt_start(tmp_path / "two", NARRATOR_PORT=port)
        assert code == 1
        assert "listening" not in out
        assert_one_line(err, f"narrator: cannot listen on 127.0.0.1:{port}", "NARRATOR_PORT")
        # Every new connection reaches the one server that runs.
        for _ in range(10):
            async with grpc.aio.insecure_channel(address) as channel:
                await new_session(pb_grpc.NarratorServiceStub(channel))
    finally:
        first.send_signal(signal.SIGTERM)
        assert await first.wait() == 0


async def test_every_bad_variable_is_one_line_and_nothing_starts(tmp_path: Path) -> None:
    bad = {
        "NARRATOR_LOG_LEVEL": "verbose",
        "NARRATOR_PORT": "1.9",
        "NARRATOR_LOG_FORMAT": "txt",
        "NARRATOR_UPSTREAMS": '[{"name": "a", "base_url": "ftp://x"}]',
        "NARRATOR_MAX_STREAMS": "0",
        "NARRATOR_SHUTDOWN_GRACE_S": "inf",
    }
    code, out, err = await attempt_start(tmp_path, **bad)
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == len(bad), err
    for name in bad:
        assert sum(line.startswith(f"narrator: {name}") for line in lines) == 1, (name, err)
    assert not (tmp_path / "narrator.sqlite3").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NARRATOR_LOG_LEVEL", "verbose"),
        ("NARRATOR_PORT", "99999"),
        ("NARRATOR_LOG_FORMAT", "txt"),
        ("NARRATOR_UPSTREAMS", "[{]"),
    ],
)
async def test_each_bad_variable_alone_is_refused_by_the_process(
    tmp_path: Path, name: str, value: str
) -> None:
    code, _, err = await attempt_start(tmp_path, **{name: value})
    assert code == 1
    assert_one_line(err, f"narrator: {name}: ")


async def test_sigterm_stores_a_turn_whose_caller_hung_up_as_cancelled(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    """A resumable turn waiting for its caller to come back is cancelled once at shutdown and
    stored before the process exits: the next server finds it ended, not running."""
    gate = asyncio.Event()
    upstream.script(Reply(text="The lantern gutters and", gate=gate))
    process, address = await start(
        tmp_path,
        OPENAI_BASE_URL=upstream.base_url,
        OPENAI_API_KEY="sk-test",
        NARRATOR_INTER_TOKEN_TIMEOUT_S="600",
        NARRATOR_RESUME_WINDOW_S="600",
        NARRATOR_SHUTDOWN_GRACE_S="0",
    )
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.NarratorServiceStub(channel)
        session_id = await new_session(stub)
        request = pb.NarrateRequest(session_id=session_id, action="I wait", turn_id="left")
        call = stub.Narrate(request)
        assert (await call.read()).WhichOneof("event") == "started"
        call.cancel()  # the player's connection is gone; the turn waits for it
    process.send_signal(signal.SIGTERM)
    assert await process.wait() == 0

    process, address = await start(tmp_path)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.NarratorServiceStub(channel)
            reply = await stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    finally:
        process.send_signal(signal.SIGTERM)
        assert await process.wait() == 0
    (turn,) = reply.session.recent_turns
    assert (turn.turn_id, turn.status) == ("left", session_pb2.TURN_STATUS_CANCELLED)
    assert turn.text == "The "  # what was said before the gate, kept
