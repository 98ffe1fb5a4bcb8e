"""The SSE chunk parser on bytes as network reads deliver them."""

from __future__ import annotations

import json

import pytest

from narrator_server.core.errors import UpstreamUnavailable
from narrator_server.core.models import FinishReason, Usage
from narrator_server.providers.sse import ChunkParser


def event(content: str | None = None, finish: str | None = None, **extra: object) -> bytes:
    delta = {} if content is None else {"content": content}
    chunk = {"id": "c1", "model": "m", "choices": [{"delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(chunk | extra)}\n\n".encode()


WIRE = (
    event("The") + event(" torch") + event(" gutters", "stop")
    + b'data: {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3,'
    + b' "prompt_tokens_details": {"cached_tokens": 4}}}\n\n'
    + b"data: [DONE]\n\n"
)  # fmt: skip


@pytest.mark.parametrize("size", [1, 5, 17, len(WIRE)])
def test_any_split_gives_the_same_text_and_one_piece_per_read(size: int) -> None:
    parser = ChunkParser()
    pieces = [parser.feed(WIRE[i : i + size]) for i in range(0, len(WIRE), size)]
    assert "".join(pieces) == "The torch gutters"
    assert parser.done
    assert (parser.finish_reason, parser.usage, parser.chunks) == (
        FinishReason.STOP,
        Usage(9, 3, cached_input_tokens=4),
        3,
    )
    if size == len(WIRE):
        assert pieces == ["The torch gutters"]  # several tokens of one read: one piece


def test_text_before_a_bad_line_is_kept_and_the_failure_held_for_after() -> None:
    parser = ChunkParser()
    assert parser.feed(event("One") + b"data: {not json\n\n" + event(" two")) == "One"
    assert isinstance(parser.failed, UpstreamUnavailable)
    with pytest.raises(UpstreamUnavailable):
        parser.feed(event(" three"))


def test_crlf_lines_comments_and_nothing_after_done() -> None:
    parser = ChunkParser()
    wire = b": keep-alive\r\n\r\n" + event("Hi").replace(b"\n", b"\r\n") + b"data: [DONE]\n\n"
    assert parser.feed(wire + event(" ignored")) == "Hi"
    assert parser.done


def test_text_is_utf8_split_anywhere_and_a_lone_surrogate_is_replaced() -> None:
    wire = (
        "data: " + json.dumps({"choices": [{"delta": {"content": "Ça brûle 🔥"}}]}, ensure_ascii=False)
        + '\n\ndata: {"choices": [{"delta": {"content": "\\ud800!"}}]}\n\n'
    ).encode()  # fmt: skip
    parser = ChunkParser()
    # One byte a read: a character's bytes arrive apart (a line is decoded once it is whole).
    text = "".join(parser.feed(wire[i : i + 1]) for i in range(len(wire)))
    assert text == "Ça brûle 🔥\ufffd!"


def test_a_line_that_is_not_utf8_is_a_bad_line() -> None:
    parser = ChunkParser()
    assert (
        parser.feed(event("ok") + b'data: {"choices": [{"delta": {"content": "\xff"}}]}\n\n')
        == "ok"
    )
    assert isinstance(parser.failed, UpstreamUnavailable)
    assert "not JSON" in str(parser.failed)


def test_one_event_a_read_is_parsed_like_any_other_read() -> None:
    # The usual read of a streaming upstream: exactly one "data: {...}\n\n" event.
    parser = ChunkParser()
    reads = [event("The"), event(" torch", "stop"), b"data: [DONE]\n\n", event(" after")]
    assert [parser.feed(r) for r in reads] == ["The", " torch", "", ""]
    assert (parser.done, parser.finish_reason, parser.chunks) == (True, FinishReason.STOP, 2)
    # A read that ends mid-line after a whole event keeps its tail for the next read.
    parser = ChunkParser()
    wire = event("One") + event(" two")
    assert parser.feed(wire[:-5]) == "One"
    assert parser.feed(wire[-5:]) == " two"


@pytest.mark.parametrize(
    "payload",
    [b'{"choices": []} {"choices": []}', b'{"choices": []}x', b"[1,", b"", b"nul", b'{"a": [1,}'],
)
def test_a_bad_event_alone_in_its_read_fails_the_stream(payload: bytes) -> None:
    parser = ChunkParser()
    assert parser.feed(event("ok")) == "ok"
    assert parser.feed(b"data: " + payload + b"\n\n") == ""
    assert isinstance(parser.failed, UpstreamUnavailable)
    with pytest.raises(UpstreamUnavailable, match="not JSON"):
        parser.feed(event(" more"))
