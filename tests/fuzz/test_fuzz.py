"""Every RPC, with generated hostile requests, against a real server process.

For every call: never INTERNAL or UNKNOWN; a refused call stores nothing (the targeted
session's turn count, or the number of sessions, is unchanged). Throughout: every health check
is answered, each in under 250 ms. The server's log holds no traceback.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

import grpc
from hypothesis import given

from narrator.v1 import narrator_service_pb2 as pb

from . import strategies
from .harness import Call

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from .harness import FuzzServer

NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
TURNS = {"Narrate", "Decide"}
WATCH_S = 0.3  # how long the harness watches a session before it hangs up
GUARD_S = 120.0  # a hang guard, not a speed check


def session_count(server: FuzzServer) -> int:
    with sqlite3.connect(f"file:{server.data_dir / 'narrator.sqlite3'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM sessions").fetchone()[0])


def turn_count(server: FuzzServer, session_id: str) -> int:
    response = server.stub.GetSession(pb.GetSessionRequest(session_id=session_id), timeout=30)
    return int(response.session.turn_count)


def summary(request: Message) -> str:
    text = str(request).replace("\n", " ")
    return text if len(text) <= 300 else text[:300] + f"… ({request.ByteSize()} bytes)"


def send(server: FuzzServer, rpc: str, request: Message) -> tuple[grpc.StatusCode, str]:
    method = f"/narrator.v1.NarratorService/{rpc}"
    raw = strategies.raw_bytes(request)
    try:
        if strategies.RPCS[rpc].server_streaming:
            timeout = WATCH_S if rpc == "WatchSession" else GUARD_S
            for _ in server.channel.unary_stream(method)(raw, timeout=timeout):
                pass
        else:
            server.channel.unary_unary(method)(raw, timeout=GUARD_S)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def check_call(server: FuzzServer, rpc: str, request: Message) -> None:
    session_id = getattr(request, "session_id", None)
    if session_id in strategies.SESSION_MARKS:
        request.session_id = server.sessions[strategies.SESSION_MARKS.index(session_id)]
    target = request.session_id if rpc in TURNS and request.session_id in server.sessions else None
    turns_before = turn_count(server, target) if target else 0
    sessions_before = session_count(server) if rpc == "CreateSession" else 0
    cpu, start = server.cpu(), time.monotonic()
    code, details = send(server, rpc, request)
    wall = time.monotonic() - start
    server.calls.append(Call(rpc, code.name, wall, server.cpu() - cpu, start, summary(request)))
    assert code not in NEVER, f"{rpc} answered {code.name} ({details}) to {summary(request)}"
    if rpc != "WatchSession":
        assert code is not grpc.StatusCode.DEADLINE_EXCEEDED, summary(request)
    if code is not grpc.StatusCode.OK:
        if target:
            assert turn_count(server, target) == turns_before, f"stored for a refused {rpc}"
        if rpc == "CreateSession":
            assert session_count(server) == sessions_before, "stored a refused session"
    elif rpc == "DeleteSession" and request.session_id in server.sessions:
        server.sessions[server.sessions.index(request.session_id)] = server.new_session()


@given(call=strategies.calls())
def test_no_request_breaks_the_server(fuzz: FuzzServer, call: tuple[str, Message]) -> None:
    rpc, request = call
    check_call(fuzz, rpc, request)


def test_health_answered_in_time_throughout(fuzz: FuzzServer) -> None:
    """Runs after the fuzzing (same module, same server): every health check during it."""
    assert fuzz.calls, "the fuzz test ran no call"
    fuzz.health.stop()
    assert fuzz.health.samples
    slow = fuzz.slow_health()
    assert not slow, [
        (f"{latency * 1000:.0f} ms", fuzz.during(start, latency)[:3]) for start, latency in slow[:5]
    ]
    assert "Traceback" not in fuzz.log.read_text()
