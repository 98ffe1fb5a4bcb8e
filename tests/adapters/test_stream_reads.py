"""A streamed body read as the network hands it over, any way it is cut: the lean transport's
chunked decoding and the SSE parser give the same bytes and text whether a read is one whole
chunk or event (their quick path) or any other piece (their general path)."""

from __future__ import annotations

import asyncio
import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from narrator_server.providers.http1_connection import Connection
from narrator_server.providers.sse import ChunkParser

HEAD = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"


def _cut(wire: bytes, aligned: list[int], cuts: list[int]) -> list[bytes]:
    """`wire` in reads: cut at the `aligned` offsets (whole chunks or events), and at `cuts`."""
    at = sorted({0, len(wire), *aligned, *(c % (len(wire) + 1) for c in cuts)})
    return [wire[a:b] for a, b in itertools.pairwise(at) if b > a]


@st.composite
def chunked(draw: st.DrawFn) -> tuple[list[bytes], bytes, list[int]]:
    """Payloads, their chunked wire (hex sizes in either case, some with extensions, some
    trailers) and the offsets where each chunk ends."""
    payloads = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=8))
    wire, ends = b"", []
    for payload in payloads:
        size = f"{len(payload):x}"
        size = size.upper() if draw(st.booleans()) else size
        ext = draw(st.sampled_from(["", ";ext=1", " ; a=b"]))
        wire += f"{size}{ext}\r\n".encode() + payload + b"\r\n"
        ends.append(len(wire))
    wire += b"0\r\n" + draw(st.sampled_from([b"", b"x-trailer: 1\r\n"])) + b"\r\n"
    return payloads, wire, ends


@settings(max_examples=300, deadline=None)
@given(chunked(), st.booleans(), st.lists(st.integers(min_value=0), max_size=10))
def test_a_chunked_body_is_rebuilt_whatever_its_reads(
    body: tuple[list[bytes], bytes, list[int]], aligned: bool, cuts: list[int]
) -> None:
    payloads, wire, ends = body
    loop = asyncio.new_event_loop()
    try:
        conn = Connection(loop, memoryview(bytearray(1024)))
        conn.data_received(HEAD)
        got = []
        for read in _cut(wire, ends if aligned else [], cuts):
            conn.data_received(read)
            conn.check()
            if conn.pieces:
                got.append(conn.take())
        assert b"".join(got) == b"".join(payloads)
        assert conn.done
        if aligned and not cuts:  # each read one whole chunk: it comes out as it went in
            assert got == payloads
    finally:
        loop.close()


@st.composite
def events(draw: st.DrawFn) -> tuple[list[str], bytes, list[int]]:
    """Texts, the SSE wire of their chunks (then a finish and [DONE]) and where each event
    ends."""
    texts = draw(st.lists(st.text(max_size=8), max_size=8))
    wire, ends = b"", []
    for text in texts:
        chunk = {"id": "c", "model": "m", "choices": [{"delta": {"content": text}}]}
        ascii_only = draw(st.booleans())
        wire += b"data: " + json.dumps(chunk, ensure_ascii=ascii_only).encode() + b"\n\n"
        ends.append(len(wire))
    wire += b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
    return texts, wire, ends


@settings(max_examples=300, deadline=None)
@given(events(), st.booleans(), st.lists(st.integers(min_value=0), max_size=10))
def test_sse_text_is_the_same_whatever_its_reads(
    stream: tuple[list[str], bytes, list[int]], aligned: bool, cuts: list[int]
) -> None:
    texts, wire, ends = stream
    parser = ChunkParser()
    said = [parser.feed(read) for read in _cut(wire, ends if aligned else [], cuts)]
    assert "".join(said) == "".join(texts)
    assert parser.done
    assert parser.failed is None
    assert parser.chunks == sum(1 for t in texts if t)
