"""Cuts a stream of text into the windows its moderation checks: sentences, bounded in size
and in how long their text waits. Pure logic, no I/O, an injectable clock.

A window closes at the end of a sentence (a run of `.`, `!`, `?` or `…` with its closing
quotes or brackets, at the end of the text so far or before a space; or a line break), when
the sentence reaches `max_chars` (cut after its last complete word), or when the oldest text
held has waited `hold_s` (the complete words held so far; `due` says when, so that a stream
that pauses mid-sentence still shows the words it sent). With a `tick_s`, that deadline is
the last tick of the clock (a multiple of `tick_s`, at most half the hold) before the hold
ends: text waits between `hold_s - tick_s` and `hold_s`, and the windows of every stream due
within one tick close at the same instant, so that one wake-up of the server serves them all
instead of one each. Text fed with an earlier `arrived` (it waited unread since then) is held
as if it had been fed then: it never waits longer for being read late. A word still arriving
is never cut,
except a single "word" longer than `max_chars`. The first window of a turn closes as soon as
it holds a complete word (the first words are not held for a sentence). The windows, joined,
are exactly the text fed.
"""

from __future__ import annotations

import re

_END = re.compile(r"[.!?…]+[\"'”’)\]»]*(?=\s|\Z)|\n")
_SPACE = re.compile(r"\s")


class Windows:
    def __init__(
        self, max_chars: int, hold_s: float, first_words: bool = True, tick_s: float = 0.0
    ) -> None:
        self._max = max_chars
        self._hold = hold_s
        self._tick = min(tick_s, hold_s / 2) if tick_s > 0 else 0.0
        self._held = ""
        self._cut = ("", 0)  # the held text last looked at, and its `_last_word_end`
        self._due = hold_s  # when the oldest text held must go out (`_held_since`)
        # The first window is the first complete word(s): the turn's first words go out
        # (checked) as soon as they are whole, not when their sentence ends.
        self._first = first_words

    @property
    def held(self) -> str:
        """Text fed that no window holds yet."""
        return self._held

    def feed(self, text: str, now: float, arrived: float | None = None) -> list[str]:
        """The windows that `text` closes (often none). `arrived`: the earliest it may have
        reached the server, if before `now`."""
        since = now if arrived is None or arrived > now else arrived
        if not self._held:
            self._held_since(since)
        elif since < now:
            self._due = min(self._due, self._due_after(since))
        scan = len(self._held)
        held = self._held = self._held + text
        out: list[str] = []
        start = 0
        for end in _END.finditer(held, scan):
            cut = end.end()
            if cut > start:
                out += self._sized(held[start:cut])
                start = cut
        if start:
            held = self._held = held[start:]
            self._held_since(since)
        if len(held) >= self._max:
            *full, held = self._sized(held, keep_last=True)
            out += full
            self._held = held
            self._held_since(since)
        if self._first:
            if not out and (cut := self._word_end()):
                out.append(self._held[:cut])
                self._held = self._held[cut:]
                self._held_since(since)
            self._first = not out
        return out + self.expired(now)

    def due(self) -> float | None:
        """When (on the feed's clock) the held text's complete words must form a window if
        nothing more arrives; None when nothing held could (no text, or one word arriving)."""
        if not self._held or not self._word_end():
            return None
        return self._due

    @property
    def held_due(self) -> float | None:
        """When the text held now is due, should its words be complete by then; None when
        nothing is held. No window closes before it but at a sentence end or the size limit."""
        return self._due if self._held else None

    def due_from(self, now: float) -> float:
        """When text held from `now` on would be due (the held text's deadline, if any)."""
        return self._due if self._held else self._due_after(now)

    def expired(self, now: float) -> list[str]:
        """The complete words held, as a window, once the oldest has waited until `due`."""
        held = self._held
        if held and now >= self._due:
            cut = self._word_end()
            if cut:
                self._held = held[cut:]
                self._held_since(now)
                return [held[:cut]]
        return []

    def _held_since(self, now: float) -> None:
        self._due = self._due_after(now)

    def _due_after(self, since: float) -> float:
        due = since + self._hold
        return due - due % self._tick if self._tick else due

    def rest(self) -> str:
        """The last window: whatever is held at the end of the stream."""
        held, self._held = self._held, ""
        return held

    def _word_end(self) -> int:
        """`_last_word_end` of the held text, worked out once for each text held (a token
        asks for it up to three times)."""
        held = self._held
        last, cut = self._cut
        if last is not held:
            cut = _last_word_end(held)
            self._cut = (held, cut)
        return cut

    def _sized(self, text: str, keep_last: bool = False) -> list[str]:
        """`text` in pieces of at most `max_chars`, each cut after a complete word. With
        `keep_last`, the last piece (maybe short, maybe a word still arriving) is returned
        last, to be held."""
        out = []
        while len(text) > self._max or (keep_last and len(text) >= self._max):
            cut = _last_word_end(text[: self._max]) or self._max
            out.append(text[:cut])
            text = text[cut:]
        out.append(text)
        return out


def _last_word_end(text: str) -> int:
    """Just past the text's last whitespace after some word (0: there is none)."""
    # The last whitespace, found from the end in C (`\s` is `str.isspace`): a token's word is
    # walked in one regex step instead of a Python step a character.
    found = _SPACE.search(text[::-1])
    if found is None:
        return 0
    i = len(text) - 1 - found.start()
    return i + 1 if i > 0 and text[:i].strip() else 0
