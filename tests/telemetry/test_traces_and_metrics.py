"""Spans reach a real OTLP/gRPC receiver; /metrics is scraped over HTTP; no player text leaks."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from narrator.v1 import narrator_service_pb2 as pb
from narrator_server.telemetry.logs import JsonFormatter
from narrator_server.testing.replies import Reply

from ..integration.test_upstream_turns import upstream_settings
from ..support import SCENE, collect, new_session, serve

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from narrator_server.testing.fake_openai import FakeOpenAI

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
ACTION = "I whisper the secret password ZEBRA-42"


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[Any] = []

    async def Export(self, request: Any, context: Any) -> Any:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    server = grpc.aio.server()
    servicer = Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"http://127.0.0.1:{port}"
    await server.stop(0)


def attrs(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = (
            [v.string_value for v in value.array_value.values]
            if kind == "array_value"
            else getattr(value, kind)
        )
    return out


def traceparent() -> tuple[tuple[str, str]]:
    return (("traceparent", f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"),)


async def test_a_retried_narrate_is_one_trace(
    tmp_path: Path, upstream: FakeOpenAI, receiver: tuple[Receiver, str]
) -> None:
    spans, endpoint = receiver
    upstream.script(Reply.error(503, retry_after_ms=1), Reply(text="It opens.", usage=(50, 3)))
    async with serve(upstream_settings(tmp_path, upstream, otlp_endpoint=endpoint)) as s:
        session_id = await new_session(s.stub)
        request = pb.NarrateRequest(session_id=session_id, action=ACTION, scene=SCENE)
        got = await collect(s.stub.Narrate(request, metadata=traceparent()))
        assert s.app.telemetry is not None
        await s.app.telemetry.flush()
    (server,) = [x for x in spans.spans if x.name == "narrator.v1.NarratorService/Narrate"]
    assert server.trace_id.hex() == CALLER_TRACE
    assert server.parent_span_id.hex() == CALLER_SPAN
    assert server.kind == server.SPAN_KIND_SERVER
    server_attrs = attrs(server)
    assert server_attrs["rpc.system"] == "grpc"
    assert server_attrs["rpc.method"] == "Narrate"
    assert server_attrs["rpc.grpc.status_code"] == 0
    assert server_attrs["gen_ai.conversation.id"] == session_id
    assert server_attrs["narrator.turn_id"] == got.of("started")[0].turn_id
    (retry,) = [e for e in server.events if e.name == "narrator.retry"]
    assert {kv.key: kv.value for kv in retry.attributes}["error.type"].string_value == (
        "UpstreamUnavailable"
    )

    attempts = sorted(
        (x for x in spans.spans if x.name == "chat fake-dm-1"), key=lambda x: x.start_time_unix_nano
    )
    assert len(attempts) == 2
    assert all(a.parent_span_id == server.span_id for a in attempts)
    assert all(a.trace_id.hex() == CALLER_TRACE for a in attempts)
    assert all(a.kind == a.SPAN_KIND_CLIENT for a in attempts)
    failed, ok = attrs(attempts[0]), attrs(attempts[1])
    assert failed["error.type"] == "UpstreamUnavailable"
    assert ok["gen_ai.operation.name"] == "chat"
    assert ok["gen_ai.provider.name"] == "openai"
    assert ok["gen_ai.request.model"] == "fake-dm-1"
    assert ok["gen_ai.response.model"] == "fake-dm-1"
    assert ok["gen_ai.response.id"] == "chatcmpl-fake"
    assert ok["gen_ai.response.finish_reasons"] == ["stop"]
    assert (ok["gen_ai.usage.input_tokens"], ok["gen_ai.usage.output_tokens"]) == (50, 3)
    assert ok["gen_ai.conversation.id"] == session_id
    assert ok["server.address"] == "127.0.0.1"
    assert ok["server.port"] == upstream.port
    assert {"gen_ai.request.max_tokens", "gen_ai.request.temperature"} <= set(ok)
    assert [e.name for e in attempts[1].events] == ["gen_ai.first_token"]
    assert "ZEBRA" not in str(spans.spans)  # content capture is off by default


async def test_a_cancelled_stream_ends_its_spans_as_cancelled(
    tmp_path: Path, upstream: FakeOpenAI, receiver: tuple[Receiver, str]
) -> None:
    spans, endpoint = receiver
    upstream.script(Reply(text="w " * 300, pace=0.01))
    async with serve(upstream_settings(tmp_path, upstream, otlp_endpoint=endpoint)) as s:
        session_id = await new_session(s.stub)
        call = s.stub.Narrate(pb.NarrateRequest(session_id=session_id, action="I go"))
        async for message in call:
            if message.WhichOneof("event") == "delta":
                call.cancel()
                break
        await upstream.received[0].client_disconnected.wait()
        assert s.app.telemetry is not None
        for _ in range(500):
            await s.app.telemetry.flush()
            names = {x.name for x in spans.spans}
            if {"chat fake-dm-1", "narrator.v1.NarratorService/Narrate"} <= names:
                break
            await asyncio.sleep(0.01)
    (server,) = [x for x in spans.spans if x.name.endswith("/Narrate")]
    (attempt,) = [x for x in spans.spans if x.name == "chat fake-dm-1"]
    assert attrs(server)["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    assert server.status.code == server.status.STATUS_CODE_ERROR
    assert "rpc.cancelled" in [e.name for e in server.events]
    assert attrs(attempt)["error.type"] == "cancelled"


async def test_content_capture_puts_messages_in_attempt_spans(
    tmp_path: Path, upstream: FakeOpenAI, receiver: tuple[Receiver, str]
) -> None:
    spans, endpoint = receiver
    config = upstream_settings(tmp_path, upstream, otlp_endpoint=endpoint, capture_content=True)
    async with serve(config) as s:
        session_id = await new_session(s.stub)
        await collect(s.stub.Narrate(pb.NarrateRequest(session_id=session_id, action=ACTION)))
        assert s.app.telemetry is not None
        await s.app.telemetry.flush()
    (attempt,) = [x for x in spans.spans if x.name == "chat fake-dm-1"]
    captured = attrs(attempt)
    assert "ZEBRA-42" in captured["gen_ai.input.messages"]
    assert json.loads(captured["gen_ai.output.messages"])[0]["role"] == "assistant"


async def test_metrics_endpoint_shows_tokens_and_durations(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.script(
        Reply.error(500, retry_after_ms=1),
        Reply(text="Done.", usage=(40, 2), cached_tokens=16),
        Reply(text="One two three", drop_after=2),
        Reply(text="three.", usage=(0, 0)),
    )
    async with serve(upstream_settings(tmp_path, upstream, metrics_port=0)) as s:
        session_id = await new_session(s.stub)
        for _ in range(2):
            request = pb.NarrateRequest(session_id=session_id, action="I act")
            await collect(s.stub.Narrate(request))
        with pytest.raises(grpc.aio.AioRpcError):
            await collect(s.stub.Narrate(pb.NarrateRequest(session_id=session_id)))
        assert s.app.telemetry is not None
        url = f"http://127.0.0.1:{s.app.telemetry.metrics_port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read().decode())
    families = {f.name: f for f in text_string_to_metric_families(body)}
    tokens = families["gen_ai_client_token_usage"]

    def sums(estimated: str) -> dict[str, float]:
        return {
            (x.labels["gen_ai_token_type"]): x.value
            for x in tokens.samples
            if x.name.endswith("_sum")
            and x.labels.get("gen_ai_provider_name") == "openai"
            and x.labels.get("narrator_usage_estimated") == estimated
        }

    assert sums("false") == {"input": 40.0, "output": 2.0, "cached_input": 16.0}
    # "three." came with a usage of 0 tokens: not believed, counted by the server instead.
    assert sums("true")["output"] == 1.0
    assert "gen_ai_client_operation_duration_seconds" in families
    assert "gen_ai_client_operation_time_to_first_chunk_seconds" in families
    rpc = families["rpc_server_duration_seconds"]
    codes = {x.labels["rpc_grpc_status_code"] for x in rpc.samples if x.name.endswith("_count")}
    assert "OK" in codes
    retries = families["narrator_upstream_retries"]
    assert any(x.value == 1 for x in retries.samples if x.name.endswith("_total"))
    assert "narrator_active_streams" in families
    assert "INVALID_ARGUMENT" in codes
    (breaker,) = families["narrator_upstream_breaker_state"].samples
    assert (breaker.labels["upstream"], breaker.value) == ("openai", 0)
    (refused,) = families["narrator_upstream_misconfigured"].samples
    assert (refused.labels["upstream"], refused.value) == ("openai", 0)
    (recovered,) = [x for x in families["narrator_recoveries"].samples if x.name.endswith("_total")]
    assert (recovered.labels["narrator_provider"], recovered.value) == ("openai", 1)


async def test_logs_join_traces_and_hold_no_player_text(
    tmp_path: Path, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.script(Reply.error(503, retry_after_ms=1), Reply(text="Fine."))
    caplog.set_level(logging.INFO)
    async with serve(upstream_settings(tmp_path, upstream)) as s:
        session_id = await new_session(s.stub)
        request = pb.NarrateRequest(session_id=session_id, action=ACTION, scene=SCENE)
        await collect(s.stub.Narrate(request, metadata=traceparent()))
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    assert "ZEBRA" not in json.dumps(lines)
    finished = [x for x in lines if x["message"] == "rpc finished" and x.get("rpc") == "Narrate"]
    assert finished
    assert finished[0]["session_id"] == session_id
    assert finished[0]["code"] == "OK"
    assert finished[0]["turn_id"]
    retry = [x for x in lines if x["message"].startswith("upstream attempt failed")]
    assert retry[0]["trace_id"] == CALLER_TRACE
    assert retry[0]["error_type"] == "UpstreamUnavailable"
