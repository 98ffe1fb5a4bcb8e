"""Joining a continuation to the text already sent, without repeats (core, no I/O)."""

from __future__ import annotations

import pytest

from narrator_server.core.continuation import Seam


def join(sent: str, *pieces: str, hold: int = 240) -> str:
    seam = Seam(sent, hold)
    return sent + "".join(seam.feed(p) for p in pieces) + seam.flush()


@pytest.mark.parametrize(
    ("sent", "pieces", "joined"),
    [
        # The continuing model restarts its whole answer.
        ("The torches ", ["The ", "torches ", "gutter ", "as you step in."],
         "The torches gutter as you step in."),
        # It repeats the last words, in another case and spacing.
        ("You open the door and ", ["The  Door and", " step through."],
         "You open the door and step through."),
        # Cut mid-word, restarted: the word is completed once.
        ("The torch", ["The torch", "es gutter."], "The torches gutter."),
        # A true continuation: nothing to strip; a sentence end gets its space.
        ("You step in.", ["The air ", "is cold."], "You step in. The air is cold."),
        ("The torch", ["es gutter."], "The torches gutter."),
        # A few letters that happen to match are not an overlap.
        ("It was a", [" and then", " silence."], "It was a and then silence."),
        ("It was dar", ["k and cold."], "It was dark and cold."),
        # A continuation that only repeats adds nothing.
        ("One two three ", ["three"], "One two three "),
    ],
)  # fmt: skip
def test_overlap_is_stripped_and_spacing_fits(sent: str, pieces: list[str], joined: str) -> None:
    assert join(sent, *pieces) == joined


def test_nothing_is_held_once_the_continuation_differs() -> None:
    seam = Seam("The gate yields to you.")
    assert seam.feed(" A cold wind") == " A cold wind"
    assert seam.feed(" blows.") == " blows."


def test_the_hold_back_is_bounded_and_a_long_restart_is_still_dropped() -> None:
    sent = " ".join(f"word{i}" for i in range(200)) + " "
    seam = Seam(sent, hold=50)
    shown, held = [], []
    for piece in [*(f"word{i} " for i in range(200)), "and ", "more."]:
        shown.append(seam.feed(piece))
        held.append(seam.holding)
    shown.append(seam.flush())
    assert "".join(shown) == "and more."
    assert max(held) < 50 + len("word199 ")
    assert held[-1] == 0
