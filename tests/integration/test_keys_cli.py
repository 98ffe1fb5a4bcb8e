"""`narrator keys` as a real process against the data dir of a running server: the server
picks up created and revoked keys without a restart; `keys list` shows usage, never secrets."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import TYPE_CHECKING

import grpc

from narrator.v1 import narrator_service_pb2 as pb

from ..support import SCENE, bearer, collect, serve, settings
from .rpcs import REQUESTS, call

if TYPE_CHECKING:
    from pathlib import Path

    from ..support import Metadata, Running


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NARRATOR_"))}
    return environ | {"NARRATOR_DATA_DIR": str(data_dir), "NARRATOR_METRICS_PORT": "-1", **extra}


async def narrator(data_dir: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """Runs `python -m narrator_server ARGS`; its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "narrator_server", *args,
        env=environment(data_dir, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def until(s: Running, metadata: Metadata, code: grpc.StatusCode) -> None:
    """Calls CreateSession until it answers `code` (the server refreshes its keys every
    NARRATOR_KEY_REFRESH_S; the test guard stops a server that never does)."""
    while True:
        if (await call(s.stub, "CreateSession", "", metadata)).code is code:
            return
        await asyncio.sleep(0.02)


async def test_keys_created_and_revoked_reach_a_running_server(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, auth="auto", key_refresh_s=0.1)) as s:
        assert (await call(s.stub, "CreateSession", "")).code is grpc.StatusCode.OK  # open
        code, out, err = await narrator(
            tmp_path, "keys", "create", "backend-eu", "--tenant", "studio",
            "--requests-per-minute", "600", "--tokens-per-day", "100000",
        )  # fmt: skip
        assert (code, err) == (0, "")
        token = out.strip().splitlines()[-1]
        assert token.startswith("nrk_")
        assert "studio" in out
        await until(s, (), grpc.StatusCode.UNAUTHENTICATED)  # a key exists: required now
        assert (await call(s.stub, "CreateSession", "", bearer(token))).code is grpc.StatusCode.OK

        code, out, _ = await narrator(tmp_path, "keys", "revoke", "backend-eu")
        assert code == 0
        assert "revoked key" in out
        await until(s, bearer(token), grpc.StatusCode.UNAUTHENTICATED)


async def test_keys_list_shows_limits_use_and_revocation_but_never_a_secret(
    tmp_path: Path,
) -> None:
    _, out, _ = await narrator(tmp_path, "keys", "create", "studio", "--tokens-per-minute", "5000")
    token = out.strip().splitlines()[-1]
    _, out, _ = await narrator(
        tmp_path, "keys", "create", "tools", "--player-requests-per-minute", "30"
    )
    spare = out.strip().splitlines()[-1]
    async with serve(settings(tmp_path, auth="required")) as s:
        response = await s.stub.CreateSession(REQUESTS["CreateSession"](""), metadata=bearer(token))
        request = pb.NarrateRequest(
            session_id=response.session.session_id, action="I look", scene=SCENE
        )
        turn = await collect(s.stub.Narrate(request, metadata=bearer(token, "alice")))
        usage = turn.of("completed")[0].usage
    await narrator(tmp_path, "keys", "revoke", spare.split("_")[1])  # by id
    code, out, err = await narrator(tmp_path, "keys", "list")
    assert (code, err) == (0, "")
    header, studio, tools = (re.split(r"\s{2,}", line) for line in out.splitlines()[:3])
    assert header == ["ID", "NAME", "TENANT", "LIMITS", "CREATED", "LAST USED", "REVOKED",
                      "REQUESTS TODAY", "TOKENS TODAY"]  # fmt: skip
    total = usage.input_tokens + usage.output_tokens
    assert studio[:4] == [token.split("_")[1], "studio", "studio", "tpm=5000"]
    assert studio[6:] == ["-", "2", f"{total} ({usage.input_tokens} in, {usage.output_tokens} out)"]
    assert studio[5] != "-"  # last used
    assert tools[1:4] == ["tools", "tools", "player rpm=30"]
    assert tools[5] == "-"  # never used
    assert tools[6] != "-"  # revoked
    assert tools[7:] == ["0", "0 (0 in, 0 out)"]
    for secret in (token.split("_", 2)[2], spare.split("_", 2)[2]):
        assert secret not in out


async def test_bad_key_commands_say_what_is_wrong(tmp_path: Path) -> None:
    code, _, err = await narrator(tmp_path, "keys", "create", "has space")
    assert code == 1
    assert err.startswith("narrator: name: must be 1 to 64 of")
    code, _, err = await narrator(tmp_path, "keys", "revoke", "nobody")
    assert (code, err.strip()) == (1, "narrator: no key has the id or the active name 'nobody'")
    await narrator(tmp_path, "keys", "create", "studio")
    code, _, err = await narrator(tmp_path, "keys", "create", "studio")
    assert code == 1
    assert "already named that" in err


async def test_a_server_beyond_loopback_with_no_key_refuses_to_start(tmp_path: Path) -> None:
    code, _, err = await narrator(tmp_path, NARRATOR_HOST="0.0.0.0", NARRATOR_PORT="0")
    assert code == 1
    assert "refusing to listen on 0.0.0.0 (beyond loopback) with no API key" in err
    assert "Traceback" not in err


async def test_keys_live_in_the_deployments_database(tmp_path: Path, postgres_url: str) -> None:
    """With NARRATOR_DATABASE_URL the CLI writes where every replica reads: PostgreSQL."""
    config = settings(tmp_path, auth="auto", key_refresh_s=0.1, database_url=postgres_url)
    async with serve(config) as s:
        code, out, err = await narrator(
            tmp_path, "keys", "create", "backend", NARRATOR_DATABASE_URL=postgres_url
        )
        assert (code, err) == (0, "")
        token = out.strip().splitlines()[-1]
        await until(s, [], grpc.StatusCode.UNAUTHENTICATED)  # a key exists now: required
        assert (await call(s.stub, "CreateSession", "", bearer(token))).code is grpc.StatusCode.OK
    assert not (tmp_path / "narrator.sqlite3").exists()
