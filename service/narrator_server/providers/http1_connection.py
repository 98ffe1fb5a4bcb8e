"""One HTTP/1.1 connection of `http1.Http1Transport`: an asyncio protocol that parses one
response at a time as bytes arrive (head, then a body by length, chunks or until close)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from collections.abc import Callable

_MAX_HEAD = 64 * 1024
_PAUSE_AT = 256 * 1024  # buffered body bytes past which the socket is not read
_IDLE = float("inf")


_HEX = b"0123456789abcdefABCDEF"


def _chunk_size(line: bytes) -> int:
    """A chunk's size line (extensions after `;` ignored): hex digits only (RFC 9112 7.1), so
    not what `int(..., 16)` also takes (a sign, `0x`, `_`)."""
    digits = line.split(b";", 1)[0].strip(b" \t")
    if not digits or len(digits) > 16 or digits.strip(_HEX):
        raise ValueError(f"bad chunk size {digits[:20]!r}")
    return int(digits, 16)


class Connection(asyncio.BufferedProtocol):
    """One connection: parses one response at a time as bytes arrive. Reads land in the
    transport's one read buffer (shared: the loop reads one socket at a time and hands each
    read over before the next), so a read costs a copy of what arrived, not asyncio's
    256 KiB allocation per read."""

    def __init__(self, loop: asyncio.AbstractEventLoop, reads: memoryview) -> None:
        self._loop = loop
        self._reads = reads
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._deadline = _IDLE
        self._timer: asyncio.TimerHandle | None = None
        self._head = bytearray()
        self.response: tuple[int, bytes, list[tuple[bytes, bytes]]] | None = None
        self._mode = ""  # "chunked", "length", "close" or "none"
        self._left = 0  # bytes left: of the body ("length") or of the chunk ("chunked")
        self._raw = b""  # undecoded tail of a chunked body
        self._crlf = False  # a chunk's data ended; its CRLF is next
        self._trailers = False
        self.pieces: list[bytes] = []
        self.buffered = 0
        self.done = False
        self.reusable = True
        self._paused = False
        # Takes body bytes in the protocol's callback while a reader waits with nothing
        # buffered; returns True when the reader must wake (`listen` in http1.py).
        self.listener: Callable[[bytes], bool] | None = None
        self._quiet = False  # this read went to the listener, which needs no wake-up
        self._wait_timeout: float | None = None
        self._rest: asyncio.TimerHandle | None = None  # the socket is left unread until then

    # --- the request side ----------------------------------------------------------------

    def send(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        self._head.clear()
        self.response, self.pieces, self.buffered = None, [], 0
        self.done, self._raw, self._crlf, self._trailers = False, b"", False, False
        self.listener = None
        self._end_rest()
        self.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.transport.write(body)

    async def wait(self, timeout: float | None) -> None:
        """Until something arrives (head, body, end or error), at most `timeout` seconds.
        One timer per connection is re-armed lazily, not one per wait (one per token)."""
        if self._error is not None or (self.response is not None and (self.pieces or self.done)):
            return
        waiter = self._waiter = self._loop.create_future()
        self._wait_timeout = timeout
        if timeout:
            self._deadline = self._loop.time() + timeout
            if self._timer is None:
                self._timer = self._loop.call_at(self._deadline, self._check_deadline)
        try:
            await waiter
        finally:
            self._waiter, self._deadline = None, _IDLE

    def _check_deadline(self) -> None:
        self._timer = None
        if self._waiter is None or self._deadline == _IDLE:
            return
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._check_deadline)
        elif not self._waiter.done():
            self._waiter.set_exception(TimeoutError())

    def take(self) -> bytes:
        data = self.pieces[0] if len(self.pieces) == 1 else b"".join(self.pieces)
        self.pieces.clear()
        self.buffered = 0
        if self._paused:
            self._paused = False
            self._read_on()
        return data

    def rest(self, seconds: float) -> bool:
        """Leaves the socket unread for `seconds` (what arrives waits in the kernel), less
        if the read timeout would come first; then reads on. False when it cannot (closed,
        or resting already)."""
        if self.transport is None or self.closed or self._rest is not None:
            return False
        if self._wait_timeout:
            seconds = min(seconds, self._wait_timeout / 2)
        if not self._paused:
            self.transport.pause_reading()
        self._rest = self._loop.call_later(seconds, self._end_rest)
        return True

    def _end_rest(self) -> None:
        if self._rest is not None:
            self._rest.cancel()
            self._rest = None
            if not self._paused:
                self._read_on()

    def _read_on(self) -> None:
        if self._rest is None and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self.closed, self.reusable = True, False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._rest is not None:
            self._rest.cancel()
            self._rest = None
        if self.transport is not None:
            self.transport.close()

    # --- the protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed, self.reusable = True, False
        if self._mode == "close" and self.response is not None:
            self.done = True
        elif not self.done and self._error is None:
            self._error = httpx2.RemoteProtocolError(
                "the server closed the connection before the response ended"
            )
        self._wake()

    def eof_received(self) -> bool:
        return False  # close our side too

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._reads

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._reads[:nbytes]))

    def data_received(self, data: bytes) -> None:
        self._quiet = False
        try:
            if self.response is None:
                data = self._read_head(data)
                if self.response is None:
                    return
            if data and not self.done:
                self._read_body(data)
        except (ValueError, IndexError) as error:
            self._error = httpx2.RemoteProtocolError(f"malformed HTTP response ({error})")
            self.close()
        if not self._quiet or self.done or self._error is not None:
            self._wake()

    def _read_head(self, data: bytes) -> bytes:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > _MAX_HEAD:
                raise ValueError("response head too long")
            return b""
        lines = bytes(self._head[:end]).split(b"\r\n")
        rest = bytes(self._head[end + 4 :])
        self._head.clear()
        version, status_text, *reason = lines[0].split(b" ", 2)
        status = int(status_text)
        headers = [(k.strip(), v.strip()) for k, _, v in (x.partition(b":") for x in lines[1:])]
        if 100 <= status < 200:
            return self._read_head(rest)  # an informational response: the real one follows
        names = {k.lower(): v.lower() for k, v in headers}
        if b"close" in names.get(b"connection", b"") or version != b"HTTP/1.1":
            self.reusable = False
        if status in (204, 304) or self._method == b"HEAD":
            self._mode, self.done = "none", True
        elif b"transfer-encoding" in names:
            if names[b"transfer-encoding"].strip() != b"chunked":
                raise ValueError(f"unsupported Transfer-Encoding {names[b'transfer-encoding']!r}")
            self._mode = "chunked"  # and a Content-Length beside it is ignored (RFC 9112 6.3)
        elif b"content-length" in names:
            self._mode, self._left = "length", int(names[b"content-length"])
            self.done = self._left == 0
        else:
            self._mode, self.reusable = "close", False
        self.response = (status, reason[0] if reason else b"", headers)
        return rest

    _method = b"POST"

    def _read_body(self, data: bytes) -> None:
        if self._mode == "length":
            data = data[: self._left]
            self._left -= len(data)
            self.done = self._left == 0
            self._keep(data)
        elif self._mode == "chunked":
            self._keep(self._dechunk(data))
        else:
            self._keep(data)

    def _dechunk(self, data: bytes) -> bytes:
        if not (self._raw or self._left or self._crlf or self._trailers):
            # The common read: one whole chunk (an SSE event), nothing before or after it.
            end = data.find(b"\r\n")
            if end > 0:
                size = _chunk_size(data[:end])
                start = end + 2
                if size > 0 and len(data) == start + size + 2 and data.endswith(b"\r\n"):
                    return data[start : start + size]
        buf, pos, out = self._raw + data if self._raw else data, 0, []
        while pos < len(buf) and not self.done:
            if self._left:
                take = buf[pos : pos + self._left]
                out.append(take)
                pos += len(take)
                self._left -= len(take)
                self._crlf = not self._left
                continue
            if self._crlf:
                if len(buf) - pos < 2:
                    break
                pos, self._crlf = pos + 2, False
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            line, pos = buf[pos:end], end + 2
            if self._trailers:
                self.done = not line  # the empty line after the trailers ends the body
            else:
                self._left = _chunk_size(line)
                self._trailers = self._left == 0
        self._raw = buf[pos:] if not self.done else b""
        if len(self._raw) > _MAX_HEAD:  # a size or trailer line that never ends
            raise ValueError("chunk line too long")
        return b"".join(out)

    def _keep(self, data: bytes) -> None:
        listener, waiter = self.listener, self._waiter
        if listener is not None and data and not self.pieces and waiter and not waiter.done():
            self._quiet = not listener(data)
            if self._wait_timeout:  # data came: the wait's read timeout starts again
                self._deadline = self._loop.time() + self._wait_timeout
            return
        if data:
            self.pieces.append(data)
            self.buffered += len(data)
            if self.buffered > _PAUSE_AT and not self._paused and self.transport is not None:
                self._paused = True
                if self._rest is None:
                    self.transport.pause_reading()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
