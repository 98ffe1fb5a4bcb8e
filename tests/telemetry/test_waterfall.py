"""The embedded default: spans in a JSON-lines file, shown by `narrator traces`."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from narrator.v1 import narrator_service_pb2 as pb
from narrator_server.testing.replies import Reply

from ..integration.test_upstream_turns import upstream_settings
from ..support import collect, new_session, serve

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI


def traces(data_dir: Path, *args: str) -> str:
    env = dict(os.environ, NARRATOR_DATA_DIR=str(data_dir))
    result = subprocess.run(
        [sys.executable, "-m", "narrator_server", "traces", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


async def test_traces_show_rpc_attempts_retries_and_fallback(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    down = Reply.error(503, retry_after_ms=1)
    upstream.script(down, Reply(text="It works.", usage=(30, 2)), down, down, down, down)
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        retried = await new_session(s.stub)
        await collect(s.stub.Narrate(pb.NarrateRequest(session_id=retried, action="I push")))
        fell_back = await new_session(s.stub)
        await collect(s.stub.Narrate(pb.NarrateRequest(session_id=fell_back, action="I pull")))
        assert s.app.telemetry is not None
        await s.app.telemetry.flush()

    shown = traces(tmp_path, "--session", retried)
    assert f"session {retried}" in shown
    assert fell_back not in shown
    assert "narrator.v1.NarratorService/Narrate" in shown
    assert shown.count("chat fake-dm-1") == 2
    assert "narrator.retry" in shown
    assert "ttft" in shown
    assert "tokens 30→2" in shown
    assert "error UpstreamUnavailable" in shown

    shown = traces(tmp_path, "--session", fell_back)
    assert shown.count("chat fake-dm-1") == 4
    assert "narrator.fallback" in shown
    assert "chat narrator-offline-1" in shown
    assert "spoke offline" in shown

    everything = traces(tmp_path, "--limit", "100")
    trace_id = everything.split()[1]
    assert traces(tmp_path, "--trace", trace_id[:8]).split()[1] == trace_id
