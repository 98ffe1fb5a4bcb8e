"""The moderation port: is a text allowed at a session's content rating? And the input check
that refuses a player's text before anything is asked of a model.

What is checked where: the player's action or question when a new turn starts (before any
upstream request, nothing stored when refused), the player's name and description when a
session is created, and every turn's output in sentence windows (`output_check.py`).
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .errors import ContentRejected

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .models import ContentRating

# The categories a check may refuse a text for (the names OpenAI's moderation uses, plus two
# the local filter adds), and how an error message describes each.
CATEGORIES = {
    "sexual": "sexual content",
    "sexual/minors": "sexual content involving minors",
    "harassment": "harassment",
    "hate": "hateful content",
    "self-harm": "self-harm",
    "self-harm/instructions": "self-harm instructions",
    "violence": "violence beyond the rating",
    "violence/graphic": "graphic violence",
    "illicit": "real-world harm instructions",
    "profanity": "strong language",
    "drugs": "drug references",
}


class Direction(enum.Enum):
    """Which way the text goes: from the player (input) or from the narrator (output)."""

    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class Verdict:
    """A check's answer: `category` is why the text is refused ("" when it is allowed);
    `source` is what decided ("local", "openai", or "local" standing in for it)."""

    category: str = ""
    source: str = ""

    @property
    def refused(self) -> bool:
        return bool(self.category)


class Moderator(Protocol):
    """Checks text against a content rating. A check never raises for the moderator's own
    failures (an adapter that calls a service falls back to a local decision): a turn is
    never failed because moderation is down."""

    name: str
    # True when a check never waits (no I/O): the output check then runs it inline, per
    # window, without tasks.
    instant: bool

    async def check(
        self, text: str, rating: ContentRating, direction: Direction, context: str = ""
    ) -> Verdict:
        """Whether `text` is allowed at `rating`. `context` is the text just before it
        (already allowed): a check may read it to judge `text`, never refuses for it alone."""
        ...


@dataclass(frozen=True)
class ModerationConfig:
    """How output is held back while it is checked (settings)."""

    # The longest window: a sentence longer than this is checked in parts (cut at a word).
    window_chars: int = 160
    # The longest text waits for its sentence to end (seconds): once the oldest held text is
    # this old when more arrives, the complete words held so far form a window.
    hold_s: float = 0.15
    # How much of the text before a window its check may read.
    context_chars: int = 200
    # Checks of one turn's output in flight at once (a moderator that waits on a service);
    # windows that close meanwhile are checked together in the next one.
    in_flight: int = 2

    @property
    def tick_s(self) -> float:
        """Held text goes out on a tick of half the hold (`windows.py`): it waits between
        half the hold and all of it, and the windows of streams due within a tick close
        together, at one wake-up of the server."""
        return self.hold_s / 2


def describe(category: str) -> str:
    return CATEGORIES.get(category, category)


async def check_input(
    moderator: Moderator, rating: ContentRating, fields: Sequence[tuple[str, str]]
) -> None:
    """Raises `ContentRejected` for the first field (in order) the moderator refuses at
    `rating`; empty fields are not checked. Fields are checked together."""
    asked = [(name, text) for name, text in fields if text.strip()]
    if not asked:
        return
    if moderator.instant or len(asked) == 1:
        verdicts = [await moderator.check(t, rating, Direction.INPUT) for _, t in asked]
    else:
        verdicts = list(
            await asyncio.gather(*(moderator.check(t, rating, Direction.INPUT) for _, t in asked))
        )
    for (name, _), verdict in zip(asked, verdicts, strict=True):
        if verdict.refused:
            raise ContentRejected(name, verdict.category, describe(verdict.category), rating.value)
