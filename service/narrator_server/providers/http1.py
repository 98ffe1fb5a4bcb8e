"""A lean HTTP/1.1 transport for the openai SDK's httpx2 client: one asyncio protocol per
connection, keep-alive connections reused, and a response body handed over as each network
read delivers it (de-chunked, several SSE events of one read in one piece).

The SDK still builds every request and maps every error (this transport raises httpx2's
exceptions); what it saves is httpcore's per-read machinery (anyio cancel scopes, h11 events,
five generator layers), which costs more than the rest of a streamed token. What it leaves
to httpx2 above it: redirects, content decoding (gzip error bodies), timeouts' values. What it
does not do: proxies (the factory gives a proxied upstream httpx2's own transport), HTTP/2
(neither does the SDK's default client), transfer codings other than `chunked` (refused as a
protocol error, as httpcore refuses them). `NARRATOR_UPSTREAM_TRANSPORT=httpx` turns it off.
The protocol of one connection (its response parser) is `http1_connection.py`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import httpx2

from .http1_connection import Connection

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable
    from ssl import SSLContext

_READ_SIZE = 64 * 1024  # at most one read's bytes
Origin = tuple[bytes, bytes, int]


class _Body(httpx2.AsyncByteStream):
    def __init__(self, transport: Http1Transport, origin: Origin, conn: Connection,
                 request: httpx2.Request, timeout: float | None) -> None:  # fmt: skip
        self._transport, self._origin, self._conn = transport, origin, conn
        self._request, self._timeout = request, timeout
        self._released = False

    async def __aiter__(self) -> AsyncGenerator[bytes]:
        conn = self._conn
        while True:
            if conn.pieces:
                yield conn.take()
                continue
            if conn.done:
                break
            conn.check()
            try:
                await conn.wait(self._timeout)
            except TimeoutError:
                message = "no data within the read timeout"
                raise httpx2.ReadTimeout(message, request=self._request) from None
            if conn.listener is not None:
                yield b""  # the listener woke its reader, which takes what it holds first
        self._release()

    async def aclose(self) -> None:
        self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._conn.listener = None
            self._transport.release(self._origin, self._conn)


def body_of(response: httpx2.Response) -> AsyncGenerator[bytes] | None:
    """The body of a response this transport gave, as each read delivers it, when it has no
    content coding; None otherwise (`response.aiter_bytes()` decodes it). Reading it here
    skips httpx2's two generators and two decoders a read: ~7% of a one-token chunk's CPU.
    Closing the response still releases the connection (to the pool when read to its end)."""
    stream = response.stream
    coding = response.headers.get("content-encoding", "").strip().lower()
    if not isinstance(stream, _Body) or coding not in ("", "identity"):
        return None
    response.is_stream_consumed = True  # as `aiter_raw` marks it: nothing else reads it
    return stream.__aiter__()


def listen(
    response: httpx2.Response, listener: Callable[[bytes], bool] | None
) -> Callable[[float], bool] | None:
    """Has the connection of a response this transport gave hand each read of its body to
    `listener` in the protocol's callback, while the body's reader waits with nothing
    buffered (None: stop). The listener returns True to wake the reader, whose body then
    yields b"" (and what arrived meanwhile). Returns a `rest(seconds)` that leaves the socket
    unread for a while (`Connection.rest`) while this listener is the connection's, and does
    nothing (False) once it is not; None when the response is not this transport's."""
    stream = response.stream
    if not isinstance(stream, _Body):
        return None
    conn = stream._conn
    conn.listener = listener

    def rest(seconds: float) -> bool:
        return listener is not None and conn.listener is listener and conn.rest(seconds)

    return rest


class Http1Transport(httpx2.AsyncBaseTransport):
    """HTTP/1.1 (and TLS) to the upstreams of one client, with a keep-alive pool."""

    def __init__(self, ssl_context: SSLContext | None = None, keepalive: float = 30.0) -> None:
        self._ssl = ssl_context
        self._keepalive = keepalive
        self._idle: dict[Origin, list[Connection]] = {}
        self._reads = memoryview(bytearray(_READ_SIZE))  # every connection's reads land here

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        headers = request.headers.raw
        if any(k.lower() == b"transfer-encoding" for k, _ in headers):
            body = (b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)) if body else b"0\r\n\r\n"
        head = b"".join(
            [request.method.encode(), b" ", url.raw_path, b" HTTP/1.1\r\n",
             *(b"%s: %s\r\n" % (k, v) for k, v in headers), b"\r\n"]
        )  # fmt: skip
        conn = self._reused(origin) or await self._connect(origin, request, timeouts)
        conn._method = request.method.encode()
        conn.send(head, body)
        read_timeout = timeouts.get("read")
        while conn.response is None:
            conn.check()
            try:
                await conn.wait(read_timeout)
            except TimeoutError:
                conn.close()
                message = "no response within the read timeout"
                raise httpx2.ReadTimeout(message, request=request) from None
            except BaseException:
                conn.close()
                raise
        status, reason, response_headers = conn.response
        return httpx2.Response(
            status_code=status,
            headers=response_headers,
            stream=_Body(self, origin, conn, request, read_timeout),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    def _reused(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._keepalive:
                return conn
            conn.close()
        return None

    async def _connect(self, origin: Origin, request: httpx2.Request, timeouts: dict[str, float]
                       ) -> Connection:  # fmt: skip
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        conn = Connection(loop, self._reads)
        tls = scheme == b"https"
        if tls and self._ssl is None:
            self._ssl = httpx2.create_ssl_context()
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                await loop.create_connection(
                    lambda: conn, host.decode(), port, ssl=self._ssl if tls else None,
                    server_hostname=host.decode() if tls else None,
                )  # fmt: skip
        except TimeoutError as error:
            raise httpx2.ConnectTimeout("connecting timed out", request=request) from error
        except OSError as error:
            raise httpx2.ConnectError(str(error), request=request) from error
        return conn

    def release(self, origin: Origin, conn: Connection) -> None:
        """Back to the pool when its response was read to the end; else closed."""
        if conn.done and conn.reusable and not conn.closed and not conn.pieces:
            conn.idle_since = time.monotonic()
            self._idle.setdefault(origin, []).append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
