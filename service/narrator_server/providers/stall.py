"""Stall detection that fits the stream, timing each read of the upstream and nothing else.

A stream is stalled when one read waits longer than max(floor, factor x the stream's typical
wait between reads), capped. The typical wait follows a peak that decays by a tenth per read,
so a model that paused once is given room for a while. Before any wait was seen, the time to
the first text stands in for it. Only reads are timed: while the stream's consumer works (the
generator is suspended at a `yield`), no timer runs, so a slow consumer never looks like a
stalled upstream.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class StallPolicy:
    """How long an upstream may stay silent: before its first word, and between two words."""

    first_token: float = 20.0
    # The cap on silence between two words, and the floor and factor of the adaptive limit.
    inter_token: float = 15.0
    floor: float = 1.5
    factor: float = 8.0


class StallTimer:
    """One stream's read timer. Per read it costs a few assignments; one timer handle is
    re-armed lazily. On a stall it cancels the reading task; `stalled(...)` tells the reader
    that the cancellation was the timer's (and takes it back)."""

    def __init__(self, policy: StallPolicy, first_wait: float) -> None:
        self._policy = policy
        self._loop = asyncio.get_running_loop()
        self._typical = first_wait
        self._reading = False
        self._resting = False  # the wait since the last read is a rest (`rests`)
        self._started = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self.fired = False

    @property
    def limit(self) -> float:
        p = self._policy
        return min(p.inter_token, max(p.floor, p.factor * self._typical))

    def reading(self) -> None:
        """A read starts now. (Its deadline is worked out only when the timer goes off.)"""
        self._started = now = self._loop.time()
        self._reading = True
        # The task reading now is the one a stall cancels: a consumer may read the stream
        # from one task and then from another (the output check's pump).
        self._task = asyncio.current_task(self._loop)
        if self._handle is None:
            self._handle = self._loop.call_at(now + self.limit, self._check)

    def read(self, carried_text: bool) -> None:
        """The read returned; a read that carried text tells how long the upstream waits."""
        if carried_text:
            waited = self._loop.time() - self._started
            self._typical = max(waited, self._typical * 0.9)
        self._reading = False

    def pushed(self, carried_text: bool) -> None:
        """A read taken while the reader still waits (`Tap`): it ends one wait and starts the
        next, for the task that was reading."""
        now = self._loop.time()
        if carried_text and not self._resting:
            self._typical = max(now - self._started, self._typical * 0.9)
        self._started, self._resting = now, False

    def left(self) -> float:
        """Seconds before a stall would be called if nothing is read."""
        return self._started + self.limit - self._loop.time()

    def rests(self) -> None:
        """The reader leaves the upstream unread for a while (less than `limit`): the wait
        until the next read is its own, not the upstream's."""
        self._resting = True

    def stalled(self) -> bool:
        """In an `except CancelledError`: True when the timer cancelled the read (the
        cancellation is withdrawn), False when the cancellation came from elsewhere."""
        if not self.fired or self._task is None:
            return False
        self.fired = False
        return self._task.uncancel() == 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        if not self._reading or self._task is None:
            return  # not reading: re-armed by the next read
        deadline = self._started + self.limit
        if self._loop.time() < deadline:
            self._handle = self._loop.call_at(deadline, self._check)
            return
        self.fired = True
        self._task.cancel()
