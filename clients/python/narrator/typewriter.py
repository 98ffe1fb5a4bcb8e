"""Prints streamed text as it arrives, wrapped to the terminal by cell width: between
words, and between wide characters (CJK, emoji take two cells and may break anywhere)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.cells import cell_len

if TYPE_CHECKING:
    from rich.console import Console

_PIECES = re.compile(r"\s+|\S+")


def _units(word: str) -> list[str]:
    """A word cut where a line may break: around each wide (two-cell) character."""
    units: list[str] = []
    wide_last = False
    for char in word:
        cells = cell_len(char)
        if units and (cells == 0 or (cells == 1 and not wide_last)):
            units[-1] += char  # joiners and selectors stay with what they modify
        else:
            units.append(char)
        wide_last = cells > 1 or (cells == 0 and wide_last)
    return units


class Typewriter:
    """Keeps the column across deltas. A word is printed once it is whole (a model may send
    half a word per delta), so it always wraps as one; `flush` prints the last one."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.column = 0
        self._space = False
        self._partial = ""

    @property
    def width(self) -> int:
        return max(20, self.console.width - 1)

    def write(self, text: str) -> None:
        pieces = _PIECES.findall(self._partial + text)
        self._partial = ""
        if pieces and not pieces[-1].isspace():
            self._partial = pieces.pop()
            units = _units(self._partial)
            if len(units) > 1 and any(cell_len(u) > 1 for u in units):
                self._word("".join(units[:-1]))  # a run of wide characters: no need to wait
                self._partial = units[-1]
        for piece in pieces:
            if not piece.isspace():
                self._word(piece)
            elif "\n" in piece:
                self.newline()
            elif self.column:
                self._space = True

    def flush(self) -> None:
        if self._partial:
            self._word(self._partial)
            self._partial = ""

    def _word(self, word: str) -> None:
        size = cell_len(word)
        units = _units(word)
        space = 1 if self._space else 0
        self._space = False
        # What must fit on this line: the first wide character, else the word (a word longer
        # than a line starts on its own line).
        first = cell_len(units[0]) if len(units) > 1 else min(size, self.width)
        if self.column and self.column + space + first > self.width:
            self.newline()
            space = 0
        if space:
            self._emit(" ")
        if self.column + size <= self.width:
            self._emit(word)
            return
        for unit in units:
            # A run wider than a whole line (a long URL, a long word) breaks anywhere.
            for part in [unit] if cell_len(unit) <= self.width else list(unit):
                if self.column and self.column + cell_len(part) > self.width:
                    self.newline()
                self._emit(part)

    def _emit(self, text: str) -> None:
        self.console.print(text, end="", highlight=False, markup=False, soft_wrap=True)
        self.column += cell_len(text)

    def newline(self) -> None:
        self.console.print()
        self.column = 0
        self._space = False
