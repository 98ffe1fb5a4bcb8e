"""One provider stream's text as its turn shows it: a decision's rationale drawn out of its JSON
answer, a takeover's text joined without repeating what was sent, and the turn's size limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .schema_tasks import MAX_ANSWER_CHARS

if TYPE_CHECKING:
    from .continuation import Seam
    from .rationale import RationaleExtractor
    from .tap import Tap
    from .turns import Progress


class StreamText:
    """Adds what a stream says to the turn's `Progress` (`text`, and `raw` for a decision)."""

    def __init__(
        self,
        p: Progress,
        max_text_chars: int,
        extractor: RationaleExtractor | None = None,
        seam: Seam | None = None,
        upper: Tap | None = None,
    ) -> None:
        self._shown, self._raw = p.text, p.raw
        self._extractor, self._seam, self._upper = extractor, seam, upper
        self.room = max_text_chars - sum(len(t) for t in p.text)
        self._raw_room = MAX_ANSWER_CHARS - sum(len(t) for t in p.raw)
        self.said = 0  # characters the stream said, shown or not
        self.cut = False  # the turn reached its size limit: the stream must end

    def take(self, text: str) -> str:
        """The part of a piece of the stream that is shown ('' for none). Past the size limit
        only what fits is shown, and `cut` is set."""
        self.said += len(text)
        if self._extractor is not None:
            self._raw.append(text[: max(self._raw_room, 0)])
            self._raw_room -= len(text)
            text = self._extractor.feed(text)
        if self._seam is not None:
            text = self._seam.feed(text)
        if len(text) > self.room or self._raw_room < 0:
            text = text[: max(self.room, 0)]
            self.cut = True
        self.room -= len(text)
        if text:
            self._shown.append(text)
        return text

    def pushable(self) -> bool:
        """Whether `push` may take text: plain narration (no rationale, no seam) with a reader
        above that takes pushed text."""
        return self._upper is not None and self._extractor is None and self._seam is None

    def push(self, text: str) -> bool:
        """A tap's sink (`tap.py`, only when `pushable`): `text` taken as `take` would take it
        and handed to the level above, or nothing done (at the size limit, or when the level
        above does not take it)."""
        assert self._upper is not None
        if len(text) > self.room or not self._upper.push(text):
            return False
        self.said += len(text)
        self.room -= len(text)
        self._shown.append(text)
        return True

    def flush(self) -> str:
        """What a takeover's seam still held when the stream finished, within the limit."""
        if self._seam is None:
            return ""
        tail = self._seam.flush()[: max(self.room, 0)]
        self.room -= len(tail)
        if tail:
            self._shown.append(tail)
        return tail
