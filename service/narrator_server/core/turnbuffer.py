"""One turn's events in this process, for any number of followers. Pure logic, no I/O.

Deltas get their seq here. Text added while no follower has taken the last delta yet is merged
into it: a client that reads slower than the model writes gets fewer, larger deltas instead of
a queue of one message per token. A delta is sealed once any follower took it (or `seal()` was
called, e.g. to copy it to a shared log) and never changes afterwards, so every follower and
every replay sees the same deltas with the same seq.

A gated buffer (a shared log's producer) shows followers only what was published: the log
seals and copies events out, then publishes them, so a follower here never sees a delta that
another server taking the turn over would not know. Text keeps merging while a copy is in
flight, which is where a busy turn's deltas coalesce.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .models import TextDelta

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from .models import TurnEvent
    from .turnlog import TurnInfo


class TurnBuffer:
    def __init__(self, info: TurnInfo, *, gated: bool = False) -> None:
        self.info = info
        self.events: list[TurnEvent] = []
        self.error: BaseException | None = None
        self.done = False
        self.followers = 0
        self.seq = 0
        self._open = -1  # index of the delta still open to merging, or -1
        self._sealed_upto = 0  # events before this index are sealed
        self._waiters: list[asyncio.Future[None]] = []
        # Gated: followers see events[:visible] only (None: everything, ungated).
        self.visible: int | None = 0 if gated else None
        # Called when the last follower leaves before the end (a resumable turn may wait).
        self.on_abandoned: Callable[[], None] | None = None
        # Called on every change (a shared log's flusher listens).
        self.on_change: Callable[[], None] | None = None

    def add(self, event: TurnEvent) -> None:
        """Appends a non-text event (started, decision, completed)."""
        self._open = -1
        self.events.append(event)
        self._wake()

    def add_text(self, text: str, *, sealed: bool = False) -> TextDelta:
        """Appends text: merged into the open delta if there is one, else a new delta."""
        if self._open >= 0:
            last = self.events[self._open]
            assert isinstance(last, TextDelta)
            delta = TextDelta(last.seq, last.text + text)
            self.events[self._open] = delta
        else:
            self.seq += 1
            delta = TextDelta(self.seq, text)
            self.events.append(delta)
            self._open = len(self.events) - 1
        if sealed:
            self._open = -1
        self._wake()
        return delta

    def extend(self, recorded: list[TurnEvent]) -> None:
        """Appends events recorded elsewhere (sealed, with their seq): a mirror of another
        server's turn, or the recorded part of a turn taken over."""
        self._open = -1
        for event in recorded:
            self.events.append(event)
            if isinstance(event, TextDelta):
                self.seq = max(self.seq, event.seq)
        self._sealed_upto = len(self.events)
        self._wake()

    def publish(self, upto: int | None) -> None:
        """Gated buffers: followers may now see events[:upto] (None: everything, from now
        on, e.g. while the shared log cannot be reached)."""
        if upto is None:
            self.visible = None
        elif self.visible is not None:
            self.visible = max(self.visible, min(upto, self._sealed_upto))
        self._waken()

    def retract(self) -> None:
        """Drops what followers were not shown (a gated buffer whose turn went elsewhere)."""
        if self.visible is not None:
            del self.events[self.visible :]
            self._sealed_upto = min(self._sealed_upto, self.visible)
            self._open = -1

    @property
    def sealed(self) -> int:
        """How many events are sealed (never change again)."""
        return self._sealed_upto

    def seal(self) -> list[TurnEvent]:
        """Seals everything so far; returns the events sealed by this call."""
        self._open = -1
        new = self.events[self._sealed_upto :]
        self._sealed_upto = len(self.events)
        return new

    def end(self, error: BaseException | None = None) -> None:
        """No more events; followers get `error` (if any) after the events."""
        self._open = -1
        self.error = error
        self.done = True
        self._wake()

    @property
    def deltas(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, TextDelta)]

    @property
    def text(self) -> str:
        return "".join(self.deltas)

    def _wake(self) -> None:
        if self.on_change is not None:
            self.on_change()
        if self.visible is None:
            self._waken()

    def _waken(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for wake in waiters:
                if not wake.done():
                    wake.set_result(None)

    async def follow(self, start: int = 0) -> AsyncGenerator[TurnEvent]:
        """Events from index `start`, live until the end; then raises the turn's error."""
        self.followers += 1
        try:
            i = start
            while True:
                events = self.events
                while i < (len(events) if self.visible is None else self.visible):
                    if i == self._open:
                        self._open = -1  # taken: it may no longer grow
                    event = events[i]
                    i += 1
                    yield event
                if self.done and i >= len(events):
                    break
                wake = asyncio.get_running_loop().create_future()
                self._waiters.append(wake)
                await wake
            if self.error is not None:
                raise self.error
        finally:
            self.followers -= 1
            if not self.followers and not self.done and self.on_abandoned is not None:
                self.on_abandoned()

    def lag(self, position: int) -> int:
        """How many events a follower at `position` is behind."""
        return len(self.events) - position
