"""A stream's reads taken in the connection's callback while its reader waits (`core/tap.py`):
parsed, timed and counted as the reader would, and their text pushed up the tap. Text the tap
does not take, a failure and the stream's end wake the reader, which yields what is held
first, so nothing is lost or reordered."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.tap import Tap
    from .attempt import Attempt
    from .sse import ChunkParser
    from .stall import StallTimer


class PushedReads:
    """The connection's listener for one stream (`http1.listen`)."""

    def __init__(self, parser: ChunkParser, timer: StallTimer, attempt: Attempt, tap: Tap) -> None:
        self._parser, self._timer, self._attempt, self._tap = parser, timer, attempt, tap
        self._held: list[str] = []
        self.error: Exception | None = None  # raised by the reader, after the text before it

    def read(self, data: bytes) -> bool:
        """Takes one read; True when the reader must wake."""
        parser = self._parser
        if parser.failed is None and self.error is None:
            try:
                text = parser.feed(data)
                self._timer.pushed(bool(text))
                if text:
                    self._attempt.chunk(text)
                    if self._held or not self._tap.push(text):
                        self._held.append(text)
            except Exception as error:  # a chunk the parser could not read: the reader's
                self.error = error
        return bool(self._held) or parser.failed is not None or parser.done or bool(self.error)

    def held(self) -> str:
        """The text the tap did not take, in order (then nothing is held)."""
        if not self._held:
            return ""
        text = "".join(self._held)
        self._held.clear()
        return text
