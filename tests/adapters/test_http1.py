"""The lean HTTP/1.1 transport against a real local server that sends exact bytes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import TYPE_CHECKING

import httpx2
import pytest

from narrator_server.providers.http1 import Http1Transport, body_of, listen

from ..certs import make_pki

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


class Server:
    """Answers each request on a connection with the next scripted list of byte pieces
    (each written on its own, with a pause, so a client reads them apart); `None` as a
    piece closes the connection there, a number waits that many seconds."""

    def __init__(self) -> None:
        self.answers: list[list[bytes | float | None]] = []
        self.connections = 0
        self.requests: list[bytes] = []
        self.tasks: set[asyncio.Task[object]] = set()
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = [int(x.split(b":")[1]) for x in head.split(b"\r\n")
                          if x.lower().startswith(b"content-length")]  # fmt: skip
                self.requests.append(head + await reader.readexactly(length[0] if length else 0))
                for piece in self.answers.pop(0):
                    if piece is None:
                        writer.close()
                        return
                    if isinstance(piece, float):
                        await asyncio.sleep(piece)
                        continue
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.002)
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    script = Server()
    listener = await asyncio.start_server(script.handle, "127.0.0.1", 0)
    script.port = listener.sockets[0].getsockname()[1]
    yield script
    listener.close()
    for task in script.tasks:
        task.cancel()
    await asyncio.gather(*script.tasks, return_exceptions=True)


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=Http1Transport(), timeout=5) as http:
        yield http


async def fetch(client: httpx2.AsyncClient, server: Server) -> tuple[int, list[bytes]]:
    url = f"http://127.0.0.1:{server.port}/v1/x"
    async with client.stream("POST", url, content=b'{"a": 1}') as response:
        return response.status_code, [piece async for piece in response.aiter_raw()]


CHUNKED = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
async def test_a_chunked_body_split_anywhere_is_rebuilt(
    server: Server, client: httpx2.AsyncClient, size: int
) -> None:
    body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n"
    wire = CHUNKED + body
    server.answers = [[wire[i : i + size] for i in range(0, len(wire), size)]] * 2
    for _ in range(2):
        status, pieces = await fetch(client, server)
        assert (status, b"".join(pieces)) == (200, b"hello, world")
    assert server.connections == 1  # read to its end, the connection was reused
    assert server.requests[0].startswith(b"POST /v1/x HTTP/1.1\r\n")
    assert server.requests[0].endswith(b'\r\n\r\n{"a": 1}')


async def test_chunks_of_one_read_come_as_one_piece(
    server: Server, client: httpx2.AsyncClient
) -> None:
    server.answers = [[CHUNKED, b"2\r\nab\r\n2\r\ncd\r\n", b"2\r\nef\r\n0\r\n\r\n"]]
    _, pieces = await fetch(client, server)
    assert pieces == [b"abcd", b"ef"]


async def test_reads_of_one_whole_chunk_and_reads_that_split_one_mix(
    server: Server, client: httpx2.AsyncClient
) -> None:
    # A streaming upstream's usual read is one whole chunk (one SSE event); some are not.
    reads = [b"5\r\nhello\r\n", b"7\r\n, world\r\n", b"3\r\n!!", b"!\r\n", b"2\r\n:)\r\n"]
    server.answers = [[CHUNKED, *reads, b"1\r\n.\r\n0\r\n\r\n"]]
    _, pieces = await fetch(client, server)
    assert pieces == [b"hello", b", world", b"!!", b"!", b":)", b"."]


@pytest.mark.parametrize("size", [b"-5", b"0x5", b"+5", b"5_0", b"", b"12345678901234567"])
async def test_a_chunk_size_that_is_not_hex_digits_is_a_protocol_error(
    server: Server, client: httpx2.AsyncClient, size: bytes
) -> None:
    server.answers = [[CHUNKED, size + b"\r\nhello\r\n", b"0\r\n\r\n"]]
    with pytest.raises(httpx2.RemoteProtocolError, match="malformed"):
        await fetch(client, server)


async def test_a_chunk_line_that_never_ends_is_a_protocol_error(
    server: Server, client: httpx2.AsyncClient
) -> None:
    # A size line's extension that goes on and on is not kept without bound.
    server.answers = [[CHUNKED, b"5;x=" + b"a" * 40_000, b"a" * 40_000, 5.0]]
    with pytest.raises(httpx2.RemoteProtocolError, match="malformed"):
        await fetch(client, server)


async def test_content_length_bodies_informational_heads_and_close_delimited_bodies(
    server: Server, client: httpx2.AsyncClient
) -> None:
    server.answers = [
        [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\n",
         b"abc"],
        [b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", b"until ", b"the end", None],
    ]  # fmt: skip
    assert await fetch(client, server) == (404, [b"abc"])
    status, pieces = await fetch(client, server)
    assert (status, b"".join(pieces)) == (200, b"until the end")


async def test_a_body_cut_short_is_a_protocol_error(
    server: Server, client: httpx2.AsyncClient
) -> None:
    server.answers = [[CHUNKED, b"5\r\nhel", None]]
    with pytest.raises(httpx2.RemoteProtocolError):
        await fetch(client, server)


async def test_silence_is_a_read_timeout_and_no_listener_a_connect_error(
    server: Server,
) -> None:
    server.answers = [[CHUNKED, b"2\r\nab\r\n", 30.0]]  # then nothing, the connection open
    async with httpx2.AsyncClient(transport=Http1Transport(), timeout=0.2) as http:
        with pytest.raises(httpx2.ReadTimeout):
            await fetch(http, server)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            server.port = s.getsockname()[1]  # bound, not listening: refused
            with pytest.raises(httpx2.ConnectError):
                await fetch(http, server)


async def test_https_is_served_over_tls_with_the_servers_certificate_checked(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(pki.server_cert, pki.server_key)
    script = Server()
    script.answers = [[b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"ok"]]
    listener = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=server_tls)
    port = listener.sockets[0].getsockname()[1]
    trusted = ssl.create_default_context(cafile=str(pki.ca))
    try:
        async with httpx2.AsyncClient(transport=Http1Transport(trusted), timeout=5) as http:
            response = await http.post(f"https://localhost:{port}/v1/x", content=b"{}")
            assert (response.status_code, response.content) == (200, b"ok")
        async with httpx2.AsyncClient(transport=Http1Transport(), timeout=5) as http:
            with pytest.raises(httpx2.ConnectError):  # an unknown CA is refused
                await http.post(f"https://localhost:{port}/v1/x", content=b"{}")
    finally:
        listener.close()
        for task in script.tasks:
            task.cancel()
        await asyncio.gather(*script.tasks, return_exceptions=True)


@pytest.mark.parametrize(("coding", "direct"), [(b"", True), (b"identity", True), (b"gzip", False)])
async def test_a_body_with_no_content_coding_is_read_directly_and_the_connection_kept(
    server: Server, coding: bytes, direct: bool
) -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
    head += b"content-encoding: " + coding + b"\r\n\r\n" if coding else b"\r\n"
    server.answers = [[head, b"2\r\nab\r\n", b"2\r\ncd\r\n0\r\n\r\n"]] * 2
    transport = Http1Transport()  # called as the chat provider calls it
    url = f"http://127.0.0.1:{server.port}/v1/x"
    for _ in range(2 if direct else 1):
        response = await transport.handle_async_request(httpx2.Request("POST", url, content=b"{}"))
        reads = body_of(response)
        assert (reads is not None) is direct  # with a coding, httpx2 must decode it
        if reads is not None:
            assert [piece async for piece in reads] == [b"ab", b"cd"]
            assert response.is_stream_consumed  # nothing else may read it now
        await response.aclose()
    assert server.connections == 1  # read to its end directly, the connection was reused
    await transport.aclose()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_a_listener_may_leave_the_socket_unread_and_then_gets_the_rest_in_one_read(
    tmp_path: Path, tls: bool
) -> None:
    """Ten chunks 2 ms apart: the listener rests 0.3 s at its first read, and the next read
    holds every chunk sent meanwhile. Over TLS the socket is still read, but the text comes
    to the listener only once the rest ends, in one piece all the same."""
    server_tls, trusted = None, None
    if tls:
        pki = make_pki(tmp_path)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(pki.server_cert, pki.server_key)
        trusted = ssl.create_default_context(cafile=str(pki.ca))
    script = Server()
    script.answers = [[CHUNKED, *(b"2\r\n%02d\r\n" % i for i in range(10)), b"0\r\n\r\n"]]
    listener = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=server_tls)
    port = listener.sockets[0].getsockname()[1]
    transport = Http1Transport(trusted)
    try:
        request = httpx2.Request("POST", f"{'https' if tls else 'http'}://localhost:{port}/v1/x")
        response = await transport.handle_async_request(request)
        reads = body_of(response)
        assert reads is not None
        heard: list[bytes] = []

        def hear(data: bytes) -> bool:
            heard.append(data)
            if len(heard) == 1:
                rest(0.3)
            return False

        rest = listen(response, hear)
        assert rest is not None
        before = [piece async for piece in reads]  # read before the listener was there
        assert b"".join(before) + b"".join(heard) == b"".join(b"%02d" % i for i in range(10))
        assert max(len(h) for h in heard) >= 10  # five chunks or more in one read
        await response.aclose()
    finally:
        await transport.aclose()
        listener.close()
        for task in script.tasks:
            task.cancel()
        await asyncio.gather(*script.tasks, return_exceptions=True)
