"""Authentication through a real server: every RPC refuses a missing, wrong, unknown or revoked
key with the same UNAUTHENTICATED; health and reflection stay open; NARRATOR_AUTH modes."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator_server.app import StartupError
from narrator_server.core.keys import hash_secret

from ..support import SCENE, add_key, bearer, collect, key_id, new_session, serve, settings
from .rpcs import REQUESTS, SERVICE, Outcome, call

if TYPE_CHECKING:
    from pathlib import Path

    from ..support import Metadata, Running

UNAUTHENTICATED = "a valid API key is required: send the metadata 'authorization: Bearer <key>'"


def test_every_rpc_listed() -> None:
    assert set(REQUESTS) == set(SERVICE.methods_by_name)


def refused(outcome: Outcome) -> bool:
    return outcome.code is grpc.StatusCode.UNAUTHENTICATED and outcome.message == UNAUTHENTICATED


async def every_rpc(s: Running, session_id: str, metadata: Metadata) -> dict[str, Outcome]:
    return {rpc: await call(s.stub, rpc, session_id, metadata) for rpc in sorted(REQUESTS)}


async def test_every_rpc_refuses_a_missing_wrong_unknown_or_revoked_key(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, auth="required")) as s:
        token = await add_key(s.app, "studio")
        session_id = await new_session_as(s, token)
        revoked = await add_key(s.app, "old")
        assert (await call(s.stub, "GetSession", session_id, bearer(revoked))).code is (
            grpc.StatusCode.NOT_FOUND  # it worked (another tenant's session) until revoked
        )
        assert s.app.key_store is not None
        await s.app.key_store.revoke_key("old", time.time())
        await s.app.refresh_keys()
        other_secret = "A" * 43
        bad: dict[str, Metadata] = {
            "missing": (),
            "wrong secret": bearer(f"nrk_{key_id(token)}_{other_secret}"),
            "unknown id": bearer(f"nrk_0123456789ab_{other_secret}"),
            "revoked": bearer(revoked),
            "malformed": bearer("not-a-key"),
            "another scheme": (("authorization", f"Basic {token}"),),
            "the hash": bearer(f"nrk_{key_id(token)}_{hash_secret(key_id(token), 'x')}"),
        }
        for label, metadata in bad.items():
            outcomes = await every_rpc(s, session_id, metadata)
            assert all(refused(o) for o in outcomes.values()), (label, outcomes)
        # Refused calls did nothing: the session is there, with no turn.
        session = await s.stub.GetSession(
            pb.GetSessionRequest(session_id=session_id), metadata=bearer(token)
        )
        assert session.session.turn_count == 0


async def new_session_as(s: Running, token: str, player: str = "") -> str:
    response = await s.stub.CreateSession(
        REQUESTS["CreateSession"](""), metadata=bearer(token, player)
    )
    return str(response.session.session_id)


async def test_a_valid_key_passes_on_every_rpc(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, auth="required")) as s:
        token = await add_key(s.app, "studio")
        session_id = await new_session_as(s, token)
        outcomes = {
            rpc: await call(s.stub, rpc, session_id, bearer(token))
            for rpc in sorted(REQUESTS)
            if rpc not in ("WatchSession", "DeleteSession")
        }
        watched = await watch_one_turn(s, session_id, bearer(token))
        outcomes["DeleteSession"] = await call(s.stub, "DeleteSession", session_id, bearer(token))
    for rpc, outcome in outcomes.items():
        assert not refused(outcome), rpc
    for rpc in ("CreateSession", "GetSession", "Narrate", "Decide", "DeleteSession"):
        assert outcomes[rpc].code is grpc.StatusCode.OK, (rpc, outcomes[rpc])
    assert watched[-1].WhichOneof("event") == "completed"


async def watch_one_turn(s: Running, session_id: str, metadata: Metadata) -> list[Any]:
    """Watches the session until one whole turn was seen (turns are played until the watch,
    which registers asynchronously, catches one from its start)."""
    watch = s.stub.WatchSession(pb.WatchSessionRequest(session_id=session_id), metadata=metadata)
    seen: list[Any] = []
    done = asyncio.Event()

    async def read() -> None:
        async for message in watch:
            if message.WhichOneof("event") == "started":
                seen.clear()
            seen.append(message)
            if message.WhichOneof("event") == "completed" and seen[0].HasField("started"):
                done.set()
                return

    reader = asyncio.ensure_future(read())
    while not done.is_set():
        request = pb.NarrateRequest(session_id=session_id, action="I wait", scene=SCENE)
        await collect(s.stub.Narrate(request, metadata=metadata))
        await asyncio.sleep(0)
    watch.cancel()
    await reader
    return seen


async def test_health_and_reflection_stay_open(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, auth="required")) as s:
        await add_key(s.app, "studio")
        health = health_pb2_grpc.HealthStub(s.channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE.full_name))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(s.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = [r async for r in stub.ServerReflectionInfo(iter([request]))]
        names = {x.name for x in responses[0].list_services_response.service}
        assert SERVICE.full_name in names


async def test_auto_is_open_on_loopback_until_the_first_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    async with serve(settings(tmp_path, auth="auto")) as s:
        assert "authentication is off until the first API key exists" in caplog.text
        open_session = await new_session(s.stub)  # no key needed yet
        token = await add_key(s.app, "studio")
        refusal = await call(s.stub, "GetSession", open_session)
        assert refused(refusal)
        # Sessions made while open belong to no tenant: a key's tenant does not see them.
        outcome = await call(s.stub, "GetSession", open_session, bearer(token))
        assert outcome.code is grpc.StatusCode.NOT_FOUND
        assert (await call(s.stub, "CreateSession", "", bearer(token))).code is grpc.StatusCode.OK
    assert caplog.text.count("an API key exists now") == 1
    async with serve(settings(tmp_path, auth="auto")) as s:  # a key exists: required at once
        assert refused(await call(s.stub, "CreateSession", ""))
    assert caplog.text.count("an API key exists now") == 1  # said once, by the open server


async def test_auto_refuses_to_listen_beyond_loopback_with_no_key(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match=r"refusing to listen on 0\.0\.0\.0"):
        async with serve(settings(tmp_path, host="0.0.0.0", auth="auto")):
            pass


async def test_required_refuses_every_call_while_no_key_exists(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, auth="required")) as s:
        assert refused(await call(s.stub, "CreateSession", ""))


async def test_off_serves_everyone_as_one_tenant_even_with_keys(tmp_path: Path) -> None:
    async with serve(settings(tmp_path, auth="off")) as s:
        token = await add_key(s.app, "studio")
        session_id = await new_session(s.stub)
        with_key = await call(s.stub, "GetSession", session_id, bearer(token))
        assert with_key.code is grpc.StatusCode.OK  # the key is ignored: same (open) tenant
        turn = await collect(
            s.stub.Narrate(pb.NarrateRequest(session_id=session_id, action="I go", scene=SCENE))
        )
        assert turn.events[-1] == "completed"
