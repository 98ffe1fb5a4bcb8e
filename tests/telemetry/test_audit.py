"""The audit line (one "rpc finished" per RPC: who, which session and turn, code, tokens) and
the per-key metrics; never a secret, never player text."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from narrator.v1 import narrator_service_pb2 as pb
from narrator_server.quotas.local import LocalQuotaCounter
from narrator_server.telemetry.logs import JsonFormatter
from narrator_server.testing.replies import Reply

from ..integration.rpcs import REQUESTS
from ..integration.test_upstream_turns import upstream_settings
from ..support import SCENE, add_key, bearer, collect, key_id, serve

if TYPE_CHECKING:
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

ACTION = "I whisper the secret password ZEBRA-42"


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    return [x for x in lines if x["message"] == "rpc finished"]


async def test_one_audit_line_per_rpc_says_who_did_what(
    tmp_path: Path, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.default = Reply(text="The water answers.", usage=(120, 7))
    caplog.set_level(logging.INFO)
    async with serve(upstream_settings(tmp_path, upstream, auth="required")) as s:
        token = await add_key(s.app, "backend-eu", tenant="studio")
        metadata = bearer(token, "alice")
        created = await s.stub.CreateSession(REQUESTS["CreateSession"](""), metadata=metadata)
        session_id = created.session.session_id
        request = pb.NarrateRequest(
            session_id=session_id, action=ACTION, scene=SCENE, turn_id="turn-1"
        )
        await collect(s.stub.Narrate(request, metadata=metadata))
        with pytest.raises(grpc.aio.AioRpcError):
            await s.stub.GetSession(pb.GetSessionRequest(session_id=session_id))  # no key
    lines = audit_lines(caplog)
    assert [(x["rpc"], x["code"]) for x in lines] == [
        ("CreateSession", "OK"), ("Narrate", "OK"), ("GetSession", "UNAUTHENTICATED"),
    ]  # fmt: skip
    create, narrate, refused = lines
    who = {"tenant": "studio", "key_id": key_id(token), "player": "alice"}
    assert create.items() >= {**who, "session_id": session_id}.items()
    assert narrate.items() >= {
        **who, "session_id": session_id, "turn_id": "turn-1",
        "input_tokens": 120, "output_tokens": 7,
    }.items()  # fmt: skip
    assert refused.items() >= {"tenant": "", "key_id": "", "session_id": session_id}.items()
    everything = json.dumps([JsonFormatter().format(r) for r in caplog.records])
    assert token.split("_", 2)[2] not in everything
    assert "ZEBRA" not in everything


async def test_per_key_usage_and_denials_are_metrics(tmp_path: Path, upstream: FakeOpenAI) -> None:
    upstream.default = Reply(text="The water answers.", usage=(120, 7))
    config = upstream_settings(tmp_path, upstream, auth="required", metrics_port=0)
    async with serve(config, quota_counter=LocalQuotaCounter(clock=lambda: 0.0)) as s:
        token = await add_key(s.app, "studio", requests_per_minute=3)
        created = await s.stub.CreateSession(REQUESTS["CreateSession"](""), metadata=bearer(token))
        request = pb.NarrateRequest(
            session_id=created.session.session_id, action="I go", scene=SCENE
        )
        for _ in range(2):
            await collect(s.stub.Narrate(request, metadata=bearer(token)))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(s.stub.Narrate(request, metadata=bearer(token)))
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert s.app.telemetry is not None
        url = f"http://127.0.0.1:{s.app.telemetry.metrics_port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read().decode())
    assert token.split("_", 2)[2] not in body
    families = {f.name: f for f in text_string_to_metric_families(body)}
    mine = {"narrator_key_id": key_id(token)}

    def value(family: str, **labels: str) -> float:
        (sample,) = [
            x
            for x in families[family].samples
            if x.name.endswith("_total")
            and x.labels.items() >= {**mine, **labels}.items()
            and (x.labels.get("gen_ai_token_type") == labels.get("gen_ai_token_type"))
        ]
        return float(sample.value)

    assert value("narrator_key_requests") == 3
    assert value("narrator_key_tokens", gen_ai_token_type="input") == 240
    assert value("narrator_key_tokens", gen_ai_token_type="output") == 14
    assert value("narrator_quota_denials", narrator_limit="requests_per_minute") == 1
