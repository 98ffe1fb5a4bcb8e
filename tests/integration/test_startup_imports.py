"""What a server process loads is what its deployment uses: the modules other deployments need
(PostgreSQL, Redis, the offline narrator without fallback, JSON Schema compilation, which
runs in the worker processes) are never imported by a default SQLite server, even after it
served a narration and a decision with an arguments schema."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import TYPE_CHECKING

import grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator_server.testing.replies import Reply

from ..support import SCENE, new_session
from .test_upstream_turns import OPTIONS

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

# Runs the server as `python -m narrator_server` does and writes sys.modules at exit.
SERVE = (
    "import atexit, runpy, sys\n"
    "path = sys.argv[1]\n"
    "atexit.register(lambda: open(path, 'w').write('\\n'.join(sorted(sys.modules))))\n"
    "sys.argv = ['narrator']\n"
    "runpy.run_module('narrator_server', run_name='__main__')\n"
)
ELSEWHERE = ("psycopg", "psycopg_pool", "redis", "jsonschema", "referencing", "re2", "rpds")


async def modules_after_two_turns(tmp_path: Path, fake: FakeOpenAI, **env: str) -> set[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NARRATOR_"))}
    environ |= {
        "NARRATOR_PORT": "0",
        "NARRATOR_METRICS_PORT": "-1",
        "NARRATOR_DATA_DIR": str(tmp_path),
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": "sk-test",
        **env,
    }
    listing = tmp_path / "modules.txt"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE, str(listing), env=environ, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode()
        assert line.startswith("narrator listening on "), line
        async with grpc.aio.insecure_channel(line.split()[-1]) as channel:
            stub = pb_grpc.NarratorServiceStub(channel)
            session_id = await new_session(stub)
            fake.script(
                Reply(text="Cold water bites at your ankles."),
                Reply.decision("attack", {"target": "Ash"}, "Grub snarls."),
            )
            request = pb.NarrateRequest(session_id=session_id, action="I wade in", scene=SCENE)
            kinds = [m.WhichOneof("event") async for m in stub.Narrate(request)]
            assert kinds[-1] == "completed"
            decide = pb.DecideRequest(
                session_id=session_id, question="What does Grub do?", options=OPTIONS, scene=SCENE
            )
            decided = [m async for m in stub.Decide(decide)]
            assert [m.decision.option_id for m in decided if m.HasField("decision")] == ["attack"]
        process.send_signal(signal.SIGTERM)
        assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return set(listing.read_text().split())


def imported(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


async def test_a_default_sqlite_server_never_loads_other_deployments_modules(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    modules = await modules_after_two_turns(tmp_path, upstream)
    assert imported(modules, "narrator_server.store.sqlite")
    assert imported(modules, "narrator_server.providers.offline")  # the default fallback
    assert [p for p in ELSEWHERE if imported(modules, p)] == []
    assert not imported(modules, "narrator_server.store.postgres")
    assert not imported(modules, "narrator_server.turnlog.redis")


async def test_without_fallback_the_offline_narrator_is_never_loaded(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    modules = await modules_after_two_turns(tmp_path, upstream, NARRATOR_FALLBACK="false")
    assert not imported(modules, "narrator_server.providers.offline")
    assert [p for p in ELSEWHERE if imported(modules, p)] == []
