"""Joins the text of a provider that continues a broken turn to the text already sent.

A continuing model often repeats the end of what was said, or restarts the whole answer. The
overlap is the longest suffix of the sent text (starting at a word) that the continuation
begins with, compared without whitespace and case. It can only be known as the continuation
arrives, so its first characters are held back while they still match some suffix, at most
`hold` characters; past that bound, text that goes on matching is dropped as it comes.
"""

from __future__ import annotations

_PUNCT = ".!?,;:)]\"'…»”’"


def _norm(text: str) -> tuple[str, list[int]]:
    """`text` without whitespace, lower case, and the index in `text` of each kept char."""
    chars, where = [], []
    for i, ch in enumerate(text):
        if not ch.isspace():
            low = ch.lower()
            chars.append(low if len(low) == 1 else ch)
            where.append(i)
    return "".join(chars), where


class Seam:
    """`feed` each piece of the continuation, then `flush` at its end; both return the text
    to send now. Used once per continuation."""

    def __init__(self, sent: str, hold: int = 240) -> None:
        self._sent = sent
        self._hold = hold
        self._pn, _ = _norm(sent)
        # Word starts of the sent text, as offsets in its normalized form.
        offsets, n = [], 0
        previous_space = True
        for ch in sent:
            if ch.isspace():
                previous_space = True
                continue
            if previous_space:
                offsets.append(n)
            previous_space = False
            n += 1
        self._starts = offsets
        self._held = ""
        self._done = False
        self._skip: tuple[int, int] | None = None  # (start, matched) while dropping a repeat

    @property
    def holding(self) -> int:
        """Characters of the continuation held back now (never more than `hold` plus the
        last piece)."""
        return len(self._held)

    def feed(self, text: str) -> str:
        if self._done:
            return text
        if self._skip is not None:
            return self._skipping(text)
        self._held += text
        c, _ = _norm(self._held)
        live = [j for j in self._starts if self._pn.startswith(c, j)] if c else [0]
        if not live:
            return self._decide()
        if len(self._held) < self._hold:
            return ""
        # Long enough to be sure it repeats what was said: drop it and what follows it.
        start = min(live)
        self._skip, self._held = (start, len(c)), ""
        return ""

    def flush(self) -> str:
        if self._done or self._skip is not None:
            self._done = True
            return ""
        return self._decide()

    def _skipping(self, text: str) -> str:
        start, matched = self._skip  # type: ignore[misc]
        c, where = _norm(text)
        rest = self._pn[start + matched :]
        k = 0
        while k < len(c) and k < len(rest) and c[k] == rest[k]:
            k += 1
        if k == len(c) and k < len(rest):
            self._skip = (start, matched + k)
            return ""
        self._done, self._skip = True, None
        cut = where[k - 1] + 1 if k else 0
        return self._spaced(text[cut:])

    def _decide(self) -> str:
        self._done = True
        held, self._held = self._held, ""
        c, where = _norm(held)
        for j in self._starts:  # the longest overlap first
            size = len(self._pn) - j
            if size and c.startswith(self._pn[j:]) and self._plausible(j, size, held, where):
                return self._spaced(held[where[size - 1] + 1 :])
        return self._spaced(held)

    def _plausible(self, j: int, size: int, held: str, where: list[int]) -> bool:
        """A restart of the whole answer, an overlap of whole words, or a long one; not a
        chance match of a few letters."""
        cut = where[size - 1] + 1
        whole_words = cut == len(held) or not held[cut].isalnum()
        return j == 0 or whole_words or size >= 12

    def _spaced(self, rest: str) -> str:
        """The rest of the continuation, its spacing fitted to the end of the sent text."""
        if not rest or not self._sent:
            return rest
        end, start = self._sent[-1], rest[0]
        if end.isspace() and start.isspace():
            return rest.lstrip()
        if end in ".!?,;:" and start.isalpha():
            return " " + rest
        return rest
