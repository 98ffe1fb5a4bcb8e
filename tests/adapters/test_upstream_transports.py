"""What the fast transport leaves to httpx2 or hands to it, the same over both transports:
redirects, compressed error bodies, odd transfer codings, and a proxy from the environment;
for the SDK's own calls and for the chat provider's request, which skips the SDK's
machinery and calls the transport the SDK's client would pick."""

from __future__ import annotations

import gzip
import json
import socket
from contextlib import aclosing
from typing import TYPE_CHECKING

import httpx2
import openai
import pytest

from narrator_server.core.errors import (
    RequestRejected,
    UpstreamMisconfigured,
    UpstreamUnavailable,
)
from narrator_server.core.models import Scene, TurnKind
from narrator_server.core.ports import ChatMessage, ChatRequest, Deadline, TextChunk, TurnContext
from narrator_server.providers.factory import openai_client
from narrator_server.providers.http1 import Http1Transport
from narrator_server.providers.openai_chat import OpenAIProvider
from narrator_server.providers.retry import RetryPolicy

from .test_http1 import server  # noqa: F401  (the fixture)
from .test_openai_provider import SESSION

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from narrator_server.providers.factory import Transport

    from .test_http1 import Server

ERROR = json.dumps({"error": {"message": "no such model", "type": "invalid_request_error"}})


@pytest.fixture
async def http(transport: Transport) -> AsyncIterator[httpx2.AsyncClient]:
    """The HTTP client the factory gives the SDK for this transport."""
    fast = Http1Transport() if transport == "fast" else None
    async with openai.DefaultAsyncHttpxClient(transport=fast, timeout=5) as client:
        yield client


def answer(status: bytes, body: bytes, *headers: bytes) -> list[bytes | float | None]:
    head = b"HTTP/1.1 " + status + b"\r\ncontent-length: %d\r\n" % len(body)
    return [head + b"".join(h + b"\r\n" for h in headers) + b"\r\n", body]


async def test_a_gzip_error_body_reaches_the_sdk_decoded(
    server: Server,  # noqa: F811
    transport: Transport,
) -> None:
    server.answers = [
        answer(b"404 Not Found", gzip.compress(ERROR.encode()), b"content-encoding: gzip",
               b"content-type: application/json")
    ]  # fmt: skip
    client = openai_client(f"http://127.0.0.1:{server.port}/v1", "k", transport)
    try:
        with pytest.raises(openai.NotFoundError) as raised:
            await client.chat.completions.create(model="m", messages=[])
    finally:
        await client.close()
    assert raised.value.message.endswith("- no such model")
    assert b"accept-encoding: gzip" in server.requests[0].lower()


async def test_a_redirect_is_followed(server: Server, http: httpx2.AsyncClient) -> None:  # noqa: F811
    server.answers = [
        answer(b"307 Temporary Redirect", b"", b"location: /v2/x"),
        answer(b"200 OK", b"moved"),
    ]
    response = await http.post(f"http://127.0.0.1:{server.port}/v1/x", content=b"{}")
    assert (response.status_code, response.content) == (200, b"moved")
    assert server.requests[1].startswith(b"POST /v2/x HTTP/1.1\r\n")
    assert server.requests[1].endswith(b"\r\n\r\n{}")  # a 307 keeps the method and body


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"identity"])
async def test_a_transfer_coding_other_than_chunked_is_a_protocol_error(
    server: Server,  # noqa: F811
    http: httpx2.AsyncClient,
    coding: bytes,
) -> None:
    server.answers = [[b"HTTP/1.1 200 OK\r\ntransfer-encoding: " + coding + b"\r\n\r\n", b"x"]]
    with pytest.raises(httpx2.RemoteProtocolError):
        await http.post(f"http://127.0.0.1:{server.port}/v1/x", content=b"{}")


@pytest.fixture
def proxy(server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:  # noqa: F811
    """`server`, named as the HTTP proxy by the environment (and nothing else is)."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    return server


async def test_a_proxy_in_the_environment_is_used_by_either_transport(
    proxy: Server, transport: Transport
) -> None:
    proxy.answers = [answer(b"401 Unauthorized", ERROR.encode())]
    client = openai_client("http://upstream.invalid/v1", "k", transport)
    try:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="m", messages=[])
    finally:
        await client.close()
    # The request went to the proxy, in the absolute form a proxy is asked with.
    assert proxy.requests[0].startswith(b"POST http://upstream.invalid/v1/chat/completions ")


# --- the chat provider's own request path (it calls the transport the SDK's client would) ---

SSE = b'data: {"choices":[{"delta":{"content":"Hello"}}]}\n\ndata: [DONE]\n\n'


def provider_for(base_url: str, transport: Transport) -> OpenAIProvider:
    retry = RetryPolicy(max_attempts=1, initial_wait=0.01, max_wait=0.01, jitter=0.0)
    return OpenAIProvider(openai_client(base_url, "k", transport), "m", retry, timeout=5)


async def texts(provider: OpenAIProvider) -> str:
    request = ChatRequest(
        messages=(ChatMessage("user", "hi"),),
        context=TurnContext(SESSION, "t", 0, TurnKind.NARRATION, "hi", Scene()),
        deadline=Deadline(),
        max_tokens=50,
        temperature=0.5,
    )
    async with aclosing(provider.stream(request)) as events:
        return "".join([e.text async for e in events if isinstance(e, TextChunk)])


async def test_the_provider_follows_a_redirect_to_the_stream(
    server: Server,  # noqa: F811
    transport: Transport,
) -> None:
    server.answers = [
        answer(b"307 Temporary Redirect", b"", b"location: /v2/chat/completions"),
        answer(b"200 OK", SSE, b"content-type: text/event-stream"),
    ]
    assert await texts(provider_for(f"http://127.0.0.1:{server.port}/v1", transport)) == "Hello"
    assert server.requests[1].startswith(b"POST /v2/chat/completions HTTP/1.1\r\n")
    assert b'"messages":[{"role":"user","content":"hi"}]' in server.requests[1]


@pytest.mark.parametrize(
    ("status", "error"),
    [(b"404 Not Found", UpstreamMisconfigured), (b"400 Bad Request", RequestRejected)],
)
async def test_the_provider_reads_a_compressed_refusal_as_the_sdks_error(
    server: Server,  # noqa: F811
    transport: Transport,
    status: bytes,
    error: type[Exception],
) -> None:
    server.answers = [
        answer(status, gzip.compress(ERROR.encode()), b"content-encoding: gzip",
               b"content-type: application/json")
    ]  # fmt: skip
    with pytest.raises(error) as raised:
        await texts(provider_for(f"http://127.0.0.1:{server.port}/v1", transport))
    cause = raised.value.__cause__
    assert isinstance(cause, openai.APIStatusError)
    assert cause.message.endswith("- no such model")  # the body was decoded


async def test_the_provider_decodes_a_compressed_stream(
    server: Server,  # noqa: F811
    transport: Transport,
) -> None:
    """The fast transport's body is read directly only when it has no content coding."""
    server.answers = [
        answer(b"200 OK", gzip.compress(SSE), b"content-encoding: gzip",
               b"content-type: text/event-stream")
    ]  # fmt: skip
    assert await texts(provider_for(f"http://127.0.0.1:{server.port}/v1", transport)) == "Hello"


async def test_the_provider_goes_through_a_proxy_in_the_environment(
    proxy: Server, transport: Transport
) -> None:
    proxy.answers = [answer(b"200 OK", SSE, b"content-type: text/event-stream")]
    assert await texts(provider_for("http://upstream.invalid/v1", transport)) == "Hello"
    assert proxy.requests[0].startswith(b"POST http://upstream.invalid/v1/chat/completions ")
    assert b"authorization: bearer k" in proxy.requests[0].lower()


async def test_the_provider_says_an_upstream_that_does_not_listen_is_unreachable(
    transport: Transport,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UpstreamUnavailable, match="unreachable") as raised:
        await texts(provider_for(f"http://127.0.0.1:{port}/v1", transport))
    assert isinstance(raised.value.__cause__, openai.APIConnectionError)
