"""The chat request's body, written from pieces: the bytes json.dumps would write."""

from __future__ import annotations

import json
from typing import Any

import pytest

from narrator_server.core.ports import ChatMessage
from narrator_server.providers.chat_body import chat_body

AWKWARD = 'She said "run" \\ then\n\tleft: ünïcødé, 🐉, \x00\x1f\u2028 </script>'


def reference(model: str, messages: list[ChatMessage], fields: dict[str, Any]) -> bytes:
    body = {"model": model, "messages": [{"role": m.role, "content": m.content} for m in messages]}
    return json.dumps(body | fields, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "fields",
    [
        {"stream": True, "stream_options": {"include_usage": True}, "max_tokens": 600},
        {"temperature": 0.8, "response_format": {"type": "json_schema", "json_schema": {
            "name": "decision", "schema": {"enum": [AWKWARD]}}}},
        {},
    ],
)  # fmt: skip
def test_the_body_is_the_bytes_json_dumps_writes(fields: dict[str, Any]) -> None:
    messages = [
        ChatMessage("system", "You are the DM."),
        ChatMessage("user", AWKWARD),
        ChatMessage("assistant", ""),
        ChatMessage("tool", 'a "role" of its own'),
    ]
    got = chat_body('model "x"', messages, fields)
    assert got == reference('model "x"', messages, fields)
    assert json.loads(got)["messages"][1]["content"] == AWKWARD


def test_a_lone_surrogate_fails_as_json_dumps_does() -> None:
    messages = [ChatMessage("user", "half \ud800 a pair")]
    with pytest.raises(UnicodeEncodeError):
        reference("m", messages, {})
    with pytest.raises(UnicodeEncodeError):
        chat_body("m", messages, {})
