"""A stream's reads taken in the connection's callback while its reader waits (`core/tap.py`):
parsed, timed and counted as the reader would, and their text pushed up the tap. Text the tap
does not take, a failure and the stream's end wake the reader, which yields what is held
first, so nothing is lost or reordered.

When the tap's reader needs no more text for a while (`Tap.rest`), the connection is left
unread until `READ_AHEAD` before then: what the model says meanwhile is read in one piece, one
read instead of one a token. A rest ends before the stall timer or the read timeout could go
off, and the wait it made does not count as the upstream's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.tap import Tap
    from .attempt import Attempt
    from .sse import ChunkParser
    from .stall import StallTimer

READ_AHEAD = 0.005  # a rest ends this long before the reader needs the text: time to read it
MIN_REST = 0.01  # shorter rests are not taken: pausing and resuming costs about a read


class PushedReads:
    """The connection's listener for one stream (`http1.listen`)."""

    def __init__(self, parser: ChunkParser, timer: StallTimer, attempt: Attempt, tap: Tap) -> None:
        self._parser, self._timer, self._attempt, self._tap = parser, timer, attempt, tap
        self._held: list[str] = []
        self.error: Exception | None = None  # raised by the reader, after the text before it
        # The connection's `rest` (`http1.listen`): leaves it unread for up to that long.
        self.rest: Callable[[float], bool] | None = None
        self._rested = False
        tap.top.rest_now = self.rest_now

    def read(self, data: bytes) -> bool:
        """Takes one read; True when the reader must wake."""
        parser, tap = self._parser, self._tap
        rest = 0.0
        if self._rested:
            self._rested = tap.top.resting = False
        if parser.failed is None and self.error is None:
            try:
                text = parser.feed(data)
                self._timer.pushed(bool(text))
                if text:
                    self._attempt.chunk(text)
                    if self._held or not tap.push(text):
                        self._held.append(text)
                    else:
                        rest = tap.rest()
            except Exception as error:  # a chunk the parser could not read: the reader's
                self.error = error
        if self._held or parser.failed is not None or parser.done or self.error:
            return True
        self._rest(rest)
        return False

    def rest_now(self, seconds: float) -> bool:
        """The top reader's ask, between reads: rest now for up to `seconds`; True if so."""
        parser = self._parser
        if self._rested or self._held or parser.failed is not None or parser.done or self.error:
            return False
        return self._rest(seconds)

    def _rest(self, seconds: float) -> bool:
        rest = min(seconds, self._timer.left()) - READ_AHEAD
        if rest < MIN_REST or self.rest is None or not self.rest(rest):
            return False
        self._rested = self._tap.top.resting = True
        self._timer.rests()
        return True

    def held(self) -> str:
        """The text the tap did not take, in order (then nothing is held)."""
        if not self._held:
            return ""
        text = "".join(self._held)
        self._held.clear()
        return text
