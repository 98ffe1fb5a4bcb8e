"""A stream's text handed up from the provider in a plain call, past the generators between.

A streamed token from the upstream wakes the task that reads the turn (a future set, a task
step) and goes up five generator levels (the provider's, the chain's, the runner's two), then
back down to wait for the next one: ~10% of a paced one-token chunk's CPU (the rest is the
read itself, the token's own work and the gRPC messages). Each level's own work with a piece
of text is a few assignments. So a provider that reads its upstream from a callback (`http1`)
offers each piece of text to `Tap.push` first: every level between it and the reader that can
take text without waiting wraps the sink of the level above, and the text is taken in one call
chain. The readers with a sink: the output check's pump (a turn's text), and `Gathered` (a
summary's).

The rule that keeps it equal to yielding: a provider pushes only while it is waiting for its
upstream, that is, while every level above it waits for its next event, so a level's state is
what it would be at a `yield`. A sink that cannot take the text now (a limit reached, a queue
full, no reader above) returns False before it changed anything, and the provider yields the
text instead, as it always did, before any text read after it (order is kept).

A reader at the top that needs no more text for a while says so as it takes a piece: it sets
`rest_s` on the top tap (the output check: its held words are not due before then; `Gathered`:
it needs the text only at the end). The provider asks `rest()` right after the push and may
leave its upstream unread until just before then: what the model says meanwhile waits in the
socket and is read, and pushed, in one piece. While it does, it sets `resting` on the top tap,
so that the reader knows text it gets next may have waited since it said so. A provider that
can also rest between pushes offers `rest_now`: the output check asks it to as soon as its
held words went out, when the text that comes next is not due before another hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class Tap:
    """Where a stream's text may go in a plain call: the sink of the level above, if any.
    `above`: the tap of the level above, whose top is this one's top too."""

    __slots__ = ("rest_now", "rest_s", "resting", "sink", "top")

    def __init__(self, sink: Callable[[str], bool] | None = None, above: Tap | None = None) -> None:
        self.sink = sink
        self.top: Tap = self if above is None else above.top
        # On the top tap only. `rest_s`: set by the top reader while it takes a push, for how
        # long it needs no more text. `resting`: set by the provider while it leaves its
        # upstream unread on the strength of it.
        self.rest_s = 0.0
        self.resting = False
        # Set by a provider that can rest between pushes too: the top reader may ask it to rest
        # now, for up to that many seconds; True when it does.
        self.rest_now: Callable[[float], bool] | None = None

    def push(self, text: str) -> bool:
        """True when the levels above took `text` (the provider must not yield it)."""
        self.top.rest_s = 0.0  # a rest is only ever what the push at hand was told
        sink = self.sink
        return sink is not None and sink(text)

    def rest(self) -> float:
        """Right after a push the levels above took: for how many seconds the top reader needs
        no more text (0.0: read on). Asking clears it."""
        top = self.top
        rest, top.rest_s = top.rest_s, 0.0
        return rest


class Gathered:
    """Text kept up to `limit` characters, by a reader whose only work with text is to keep it:
    its `take` is the sink of `tap`, and the reader's own for the text yielded to it. It needs
    nothing before the stream's end, so each piece it takes lets the provider rest `rest_s`."""

    rest_s = 0.5  # a summary's end is seen at most this much later; 25 tokens a read at 20 ms

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.room = limit
        self.tap = Tap(self.take)

    def take(self, text: str) -> bool:
        """Keeps `text`; False (nothing kept) when it would pass the limit."""
        if len(text) > self.room:
            return False
        self.room -= len(text)
        self.parts.append(text)
        self.tap.rest_s = self.rest_s
        return True
