"""The rationale extractor gives the same text whatever the chunk boundaries."""

from __future__ import annotations

import json

import pytest

from narrator_server.core.rationale import RationaleExtractor

RATIONALES = [
    "Simple words.",
    'He says "run!"\nthen\tleaves \\ quickly / now',
    "Accents: é, ñ, and an emoji 🐉 in the middle.",
    "",
]


def feed_all(chunks: list[str]) -> str:
    extractor = RationaleExtractor()
    return "".join(extractor.feed(c) for c in chunks)


@pytest.mark.parametrize("rationale", RATIONALES)
@pytest.mark.parametrize("ascii_only", [True, False])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 1000])
def test_any_chunking_gives_the_rationale(rationale: str, ascii_only: bool, size: int) -> None:
    text = json.dumps(
        {"rationale": rationale, "decision": {"option_id": "x", "arguments": {"rationale": "no"}}},
        ensure_ascii=ascii_only,
    )
    assert feed_all([text[i : i + size] for i in range(0, len(text), size)]) == rationale


def test_whitespace_and_key_order_are_tolerated() -> None:
    text = '{ "decision" : {"option_id": "x"} ,\n  "rationale" :  "late but fine" }'
    assert feed_all([text[i : i + 4] for i in range(0, len(text), 4)]) == "late but fine"


@pytest.mark.parametrize("text", ["not json", '{"rationale": 42}', '{"other": "x"}'])
def test_no_rationale_string_gives_nothing(text: str) -> None:
    assert feed_all([text]) == ""
