"""Where a window may cut held text: after the last whitespace that follows some word."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import given
from hypothesis import strategies as st

from narrator_server.core.windows import Windows, _last_word_end

if TYPE_CHECKING:
    import pytest


def _walked(text: str) -> int:
    """The definition, a character at a time."""
    i = len(text) - 1
    while i > 0 and not text[i].isspace():
        i -= 1
    return i + 1 if i > 0 and text[:i].strip() else 0


SPACES = " \t\n\r\x0b\x0c\x1c\x85\xa0\u1680\u2000\u2028\u3000"


@given(st.text(alphabet=st.sampled_from("ab.é🔥" + SPACES), max_size=40))
def test_the_cut_is_after_the_last_whitespace_of_any_kind_after_a_word(text: str) -> None:
    assert _last_word_end(text) == _walked(text)


def test_cuts_in_examples() -> None:
    assert _last_word_end("") == _last_word_end("word") == _last_word_end(" word") == 0
    assert _last_word_end("  \u3000x") == 0  # whitespace, but no word before it
    assert _last_word_end("The cat") == 4
    assert _last_word_end("The cat\u00a0sat") == 8  # a no-break space is whitespace too
    assert _last_word_end("The cat ") == 8


def test_one_token_at_a_time_the_held_words_go_out_at_the_hold() -> None:
    windows = Windows(max_chars=160, hold_s=1.0, first_words=False)
    for t, token in enumerate(["The", " cat", " sat", " on"]):
        assert windows.feed(token, float(t) / 10) == []
    assert windows.due() == 1.0  # from the first word held
    assert windows.expired(1.0) == ["The cat sat "]
    assert windows.held == "on"


def test_a_token_works_out_where_held_words_may_be_cut_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The output check asks `due()` before and after each token it feeds: the held text's
    # cut is worked out once for each text held, not at each question.
    from narrator_server.core import windows as module

    calls: list[str] = []

    def counted(text: str) -> int:
        calls.append(text)
        return _last_word_end(text)

    monkeypatch.setattr(module, "_last_word_end", counted)
    w = Windows(max_chars=160, hold_s=10.0)
    tokens = ["The", " torch", " gutters", " as", " you", " step", " into", " cold", " water"]
    for t, token in enumerate(tokens):
        w.due()
        w.feed(token, float(t))
        w.due()
    assert w.held == "torch gutters as you step into cold water"
    assert w.due() == 11.0  # held since " torch" came (1.0), "The " went out alone
    assert len(calls) <= len(tokens) + 1


def test_held_words_go_out_on_the_last_tick_before_the_hold_ends() -> None:
    w = Windows(max_chars=160, hold_s=1.0, first_words=False, tick_s=0.25)
    assert w.feed("The cat", 10.3) == []
    # Held since 10.3: the hold ends at 11.3, the last tick before it is 11.25.
    assert w.due() == 11.25
    assert w.expired(11.2) == []
    assert w.expired(11.25) == ["The "]
    # Words held again from 11.25: a hold ending on a tick ends there.
    assert w.feed(" sat", 11.25) == []
    assert w.due() == 12.25


def test_streams_whose_text_is_due_within_one_tick_close_together() -> None:
    # Two turns' windows, first held 0.2 s apart within one tick: the same deadline, so
    # one wake-up of the server closes both.
    a = Windows(max_chars=160, hold_s=1.0, first_words=False, tick_s=0.5)
    b = Windows(max_chars=160, hold_s=1.0, first_words=False, tick_s=0.5)
    a.feed("The torch gutters", 20.05)
    b.feed("A door creaks", 20.25)
    assert a.due() == b.due() == 21.0
    assert a.expired(21.0) == ["The torch "]
    assert b.expired(21.0) == ["A door "]


def test_without_a_tick_the_deadline_is_the_hold_and_the_tick_is_at_most_half_of_it() -> None:
    untimed = Windows(max_chars=160, hold_s=1.0, first_words=False)
    untimed.feed("The cat", 10.3)
    assert untimed.due() == 11.3
    # A tick longer than half the hold would let text go out at once: half the hold instead.
    wide = Windows(max_chars=160, hold_s=1.0, first_words=False, tick_s=5.0)
    wide.feed("The cat", 10.3)
    assert wide.due() == 11.0


@given(
    since=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
    hold=st.floats(min_value=0.001, max_value=5.0),
    tick=st.floats(min_value=0.0, max_value=5.0),
)
def test_held_text_waits_at_most_the_hold_and_at_least_the_hold_less_a_tick(
    since: float, hold: float, tick: float
) -> None:
    w = Windows(max_chars=160, hold_s=hold, first_words=False, tick_s=tick)
    w.feed("The cat", since)
    due = w.due()
    assert due is not None
    slack = 1e-9 * max(1.0, since)  # a float's rounding at that magnitude
    assert due <= since + hold + slack
    assert due >= since + hold - min(tick, hold / 2) - slack
    assert due > since


def test_text_that_waited_unread_is_held_from_when_it_may_have_arrived() -> None:
    w = Windows(max_chars=160, hold_s=1.0, first_words=False)
    w.feed("The cat ", 0.0)
    assert w.expired(1.0) == ["The cat "]
    # Read at 1.6, but it may have waited in the socket since 0.5: due at 1.5, so out at once.
    assert w.feed("sat down ", 1.6, arrived=0.5) == ["sat down "]
    # The same text read as it arrived is held a whole hold.
    fresh = Windows(max_chars=160, hold_s=1.0, first_words=False)
    fresh.feed("The cat ", 0.0)
    fresh.expired(1.0)
    assert fresh.feed("sat down ", 1.6) == []
    assert fresh.due() == 2.6


def test_an_earlier_arrival_only_ever_brings_the_deadline_forward() -> None:
    w = Windows(max_chars=160, hold_s=1.0, first_words=False)
    w.feed("The cat ", 0.0)
    w.feed("sat ", 0.5, arrived=-0.3)  # held since before the text already held
    assert w.due() == 0.7
    w.feed("down ", 0.6, arrived=0.2)  # after it: the deadline stands
    assert w.due() == 0.7
    w.feed("there ", 0.65, arrived=9.0)  # an arrival after the read means nothing
    assert w.due() == 0.7


def test_held_due_is_when_held_text_is_due_even_before_a_word_is_complete() -> None:
    w = Windows(max_chars=160, hold_s=1.0, first_words=False)
    assert w.held_due is None
    w.feed("Th", 10.0)
    assert w.due() is None  # nothing could go out yet
    assert w.held_due == 11.0  # but nothing held goes out before then
    w.feed("e cat ", 10.2)
    assert w.due() == w.held_due == 11.0
    assert w.expired(11.0) == ["The cat "]
    assert w.held_due is None


def test_due_from_is_when_text_held_from_then_on_would_be_due() -> None:
    w = Windows(max_chars=160, hold_s=1.0, first_words=False, tick_s=0.5)
    assert w.due_from(10.2) == 11.0  # nothing held: the last tick before 11.2
    w.feed("The ca", 10.0)
    assert w.due_from(10.7) == 11.0  # the text held is due first
