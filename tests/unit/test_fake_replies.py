"""The fake upstream's generated answers (what the benchmarks stream) read like narration: one
word a chunk, in sentences, so moderation's windows close where a model's would."""

from __future__ import annotations

import random

from narrator_server.core.windows import Windows
from narrator_server.testing.replies import Reply


def test_generated_answers_are_sentences_of_one_word_chunks() -> None:
    rng = random.Random(7)
    for _ in range(50):
        pieces = Reply(tokens=(100, 300)).pieces(rng)
        assert 100 <= len(pieces) <= 300
        assert all(p.startswith(" ") and len(p.split()) == 1 for p in pieces)
        ends = [i for i, p in enumerate(pieces) if p.endswith(".")]
        assert ends[-1] == len(pieces) - 1  # the answer ends a sentence
        lengths = [b - a for a, b in zip([-1, *ends], ends, strict=False)]
        assert all(8 <= n <= 20 for n in lengths[:-1]), lengths
        assert 1 <= lengths[-1] <= 20
        starts = [0, *(i + 1 for i in ends[:-1])]
        assert all(pieces[i][1].isupper() for i in starts)


def test_one_and_three_token_answers_end_their_sentence() -> None:
    assert Reply(tokens=(1, 1)).pieces()[-1].endswith(".")
    three = Reply(tokens=(3, 3)).pieces()
    assert len(three) == 3
    assert three[-1].endswith(".")
    assert "." not in "".join(three[:-1])


def test_windows_close_at_each_generated_sentence_end() -> None:
    pieces = Reply(tokens=(200, 200)).pieces(random.Random(3))
    windows = Windows(max_chars=10_000, hold_s=60.0, first_words=False)
    closed = [w for p in pieces for w in windows.feed(p, 0.0)]
    assert len(closed) == "".join(pieces).count(".")
    assert all(w.endswith(".") for w in closed)
    assert "".join(closed) == "".join(pieces)
