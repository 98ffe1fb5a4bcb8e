"""The Python client against a real server: typed events, cancel, errors with details."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import grpc
import pytest

from narrator import (
    DecisionMade,
    NarratorClient,
    NarratorError,
    QuotaViolation,
    TextDelta,
    TurnCompleted,
    TurnStarted,
    character,
    scene,
)
from narrator_server.quotas.local import LocalQuotaCounter
from narrator_server.testing.replies import Reply

from ..certs import make_pki
from ..integration.test_upstream_turns import upstream_settings
from ..support import add_key, serve, settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

SCENE = scene("the crypt", [character("Grub", "a goblin", "hostile")], ["it is dark"])
SCHEMA = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[NarratorClient]:
    async with (
        serve(settings(tmp_path, offline_pace_ms=5)) as s,
        NarratorClient(f"127.0.0.1:{s.app.port}") as c,
    ):
        yield c


async def test_narrate_yields_typed_events(client: NarratorClient) -> None:
    session = await client.create_session("a crypt", "Ash", tone="grim")
    result = await client.collect(client.narrate(session.session_id, "I listen", SCENE))
    assert isinstance(result.started, TurnStarted)
    assert result.started.provider == "offline"
    assert isinstance(result.completed, TurnCompleted)
    assert result.completed.text == result.text
    assert result.completed.finish_reason == "stop"
    assert [d.seq for d in result.deltas] == list(range(1, len(result.deltas) + 1))


async def test_decide_yields_a_typed_decision(client: NarratorClient) -> None:
    session = await client.create_session("a crypt", "Ash")
    events = [
        e
        async for e in client.decide(
            session.session_id,
            "Does Grub attack?",
            [("attack", "Grub attacks", SCHEMA), ("wait", "Grub waits")],
            scene=SCENE,
        )
    ]
    (decision,) = [e for e in events if isinstance(e, DecisionMade)]
    assert decision.option_id in {"attack", "wait"}
    assert decision.source == "model"
    if decision.option_id == "attack":
        assert isinstance(decision.arguments["n"], int)
    assert isinstance(events[-1], TurnCompleted)


async def test_leaving_the_loop_cancels_the_turn(client: NarratorClient) -> None:
    session = await client.create_session("a crypt", "Ash")
    async for event in client.narrate(session.session_id, "I run", SCENE):
        if isinstance(event, TextDelta):
            break
    for _ in range(500):
        turns = (await client.get_session(session.session_id)).recent_turns
        if turns and turns[0].status != 4:  # stored once it ended (TURN_STATUS_RUNNING before)
            break
        await asyncio.sleep(0.01)
    assert turns[0].status == 2  # TURN_STATUS_CANCELLED


async def test_errors_carry_field_violations(client: NarratorClient) -> None:
    session = await client.create_session("a crypt", "Ash")
    with pytest.raises(NarratorError) as caught:
        await client.collect(client.decide(session.session_id, "?", [("a", "x"), ("a", "y")]))
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in caught.value.field_violations] == ["options[1].id"]
    with pytest.raises(NarratorError) as caught:
        await client.get_session("missing")
    assert caught.value.code is grpc.StatusCode.NOT_FOUND
    await client.delete_session(session.session_id)


async def test_rate_limits_carry_retry_after(tmp_path: Path, upstream: FakeOpenAI) -> None:
    upstream.script(Reply.error(429, retry_after=42))
    async with (
        serve(upstream_settings(tmp_path, upstream, fallback=False)) as s,
        NarratorClient(f"127.0.0.1:{s.app.port}") as client,
    ):
        session = await client.create_session("a crypt", "Ash")
        with pytest.raises(NarratorError) as caught:
            await client.collect(client.narrate(session.session_id, "I wait"))
    assert caught.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.retry_after == 42


async def test_a_dropped_turn_is_resumed_by_turn_id(client: NarratorClient) -> None:
    session = await client.create_session("a crypt", "Ash")
    sid = session.session_id
    have = []
    async for event in client.narrate(sid, "I run", SCENE, turn_id="run-1"):
        if isinstance(event, TextDelta):
            have.append(event)
            if event.seq == 2:
                break  # the connection drops
    rest = await client.collect(
        client.narrate(sid, "I run", SCENE, turn_id="run-1", resume_after_seq=2)
    )
    assert rest.started is not None
    assert rest.started.resumed
    assert rest.deltas[0].seq == 3
    assert rest.completed is not None
    assert "".join(d.text for d in have) + rest.text == rest.completed.text


async def test_api_key_and_players(tmp_path: Path) -> None:
    config = settings(tmp_path, auth="required")
    async with serve(config, quota_counter=LocalQuotaCounter(clock=lambda: 0.0)) as s:
        token = await add_key(s.app, "studio", player_requests_per_minute=1)
        address = f"127.0.0.1:{s.app.port}"
        async with NarratorClient(address) as anonymous:
            with pytest.raises(NarratorError) as caught:
                await anonymous.create_session("a crypt", "Ash")
            assert caught.value.code is grpc.StatusCode.UNAUTHENTICATED
        async with NarratorClient(address, api_key=token, player="alice") as dm:
            session = await dm.create_session("a crypt", "Ash")
            with pytest.raises(NarratorError) as caught:
                await dm.get_session(session.session_id)  # alice's one request a minute
            async with dm.with_player("bob") as for_bob:
                assert (await for_bob.get_session(session.session_id)).session_id
            assert (await dm.with_player("carol").get_session(session.session_id)).session_id
    error = caught.value
    assert error.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.retry_after == 60
    assert error.quota_violations == (
        QuotaViolation(
            "player_requests_per_minute", "player:alice", 1, error.quota_violations[0].description
        ),
    )
    assert "player:alice" in error.quota_violations[0].description


async def test_tls_and_mtls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = settings(
        tmp_path,
        tls_cert_file=pki.server_cert,
        tls_key_file=pki.server_key,
        tls_client_ca_file=pki.ca,
    )
    async with serve(config) as s:
        address = f"127.0.0.1:{s.app.port}"
        async with NarratorClient(
            address,
            root_certificates=pki.ca.read_bytes(),
            certificate_chain=pki.client_cert.read_bytes(),
            private_key=pki.client_key.read_bytes(),
            server_name="localhost",
        ) as dm:
            assert (await dm.create_session("a crypt", "Ash")).session_id
        async with NarratorClient(address, root_certificates=pki.ca.read_bytes()) as dm:
            with pytest.raises(NarratorError) as caught:
                await dm.create_session("a crypt", "Ash")  # no client certificate
            assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    with pytest.raises(ValueError, match="go together"):
        NarratorClient(address, certificate_chain=b"x")
