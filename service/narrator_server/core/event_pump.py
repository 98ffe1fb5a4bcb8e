"""A turn's events read ahead by a task of their own, so the output check can wait for the next
one with a deadline (held words go out when it passes) at the cost of a plain wait.

Waiting on the source itself with a deadline needs a task per event (the source must not be
cancelled mid-read) and a timer per wait: ~20 µs an event, most of a one-token chunk's cost.
Here one task reads the source for the whole turn and queues what it reads (each event with
`stamp()` taken as it is read: the takeovers made before it); a wait is one future, and the
deadline's timer is kept while the deadline stays the same. At most `ahead` events wait to be
taken; the pump reads on once there is room, so a slow reader still holds the upstream back.

A `sift` lets the pump take an event in the reader's stead while the reader waits with nothing
queued (every event before it handled): it returns what to queue instead, or None when there
is nothing to wake the reader for. With one-token chunks most tokens only add to held words,
and a wake-up of the reader (a future, a task step through its generators) costs more than
the token's own work. A sift's `("hold", deadline, 0)` wakes the reader with `("due", None,
0)` once `deadline` passes (on the clock of the reader's last `next`), not now.

Given a `tap` (`tap.py`), the pump is its top sink while it reads: text a provider pushes is
taken as if the pump had read it, without resuming the generators in between.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from .models import TurnEvent
    from .tap import Tap

Kind = Literal["event", "end", "failed", "due", "checked", "windows", "hold"]
Woken = tuple[Kind, Any, int]
_DUE: Woken = ("due", None, 0)


def _no_clock() -> float:
    return 0.0


class EventPump:
    """Reads `source` in its own task from `start()` until `close()`."""

    def __init__(
        self,
        source: AsyncGenerator[TurnEvent | str],
        stamp: Callable[[], int] = lambda: 0,
        ahead: int = 64,
        sift: Callable[[TurnEvent | str, int], Woken | None] | None = None,
        tap: Tap | None = None,
    ) -> None:
        self._source = source
        self._tap = tap
        self._sift = sift
        self._stamp = stamp
        self._ahead = ahead
        self._queue: deque[Woken] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due: float | None = None
        self._post_due = False  # the timer is a sift's hold: it queues a "due" when it fires
        self._clock: Callable[[], float] = _no_clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def post(self, kind: Kind, item: Any = None, stamp: int = 0) -> None:
        """Queues a wake-up of the reader's own (e.g. a check that finished)."""
        self._queue.append((kind, item, stamp))
        self._wake()

    async def next(
        self, due: float | None = None, clock: Callable[[], float] = lambda: 0.0
    ) -> Woken:
        """The next event, end or failure of the source, or a posted wake-up; `("due", None,
        0)` when `due` (on `clock`) passes first."""
        self._clock = clock
        if due is not None:
            self._post_due = False  # the reader's own deadline covers what a hold was for
        while not self._queue:
            if due is not None:
                left = due - clock()
                if left <= 0:
                    return _DUE
                self._arm(due, left)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            if due is not None and not self._queue and due - clock() <= 0:
                return _DUE
        woken = self._queue.popleft()
        room = self._room
        if room is not None and not room.done() and len(self._queue) < self._ahead:
            room.set_result(None)
        return woken

    async def close(self) -> None:
        """Stops reading (closing the source) and waits until it is closed."""
        if self._timer is not None:
            self._timer.cancel()
        task = self._task
        if task is None:
            await self._source.aclose()
            return
        if not task.done():
            task.cancel()
        await asyncio.wait([task])

    def _arm(self, due: float, left: float) -> None:
        if self._due == due and self._timer is not None:
            return  # the same deadline as the last wait: its timer still runs
        if self._timer is not None:
            self._timer.cancel()
        self._due = due
        self._timer = asyncio.get_running_loop().call_later(left, self._fire)

    def _hold(self, due: float) -> None:
        left = due - self._clock()
        if left <= 0:
            self.post(*_DUE)
            return
        self._arm(due, left)
        self._post_due = True

    def _fire(self) -> None:
        self._timer = self._due = None
        if self._post_due:
            self._post_due = False
            self._queue.append(_DUE)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _take(self, event: TurnEvent | str) -> None:
        stamp = self._stamp()
        waiter = self._waiter
        if self._sift is None or waiter is None or waiter.done() or self._queue:
            self.post("event", event, stamp)
        elif (woken := self._sift(event, stamp)) is not None:
            if woken[0] == "hold":
                self._hold(woken[1])
            else:
                self.post(*woken)

    def _push(self, text: str) -> bool:
        """The tap's sink: text taken as `_run` takes an event, while there is room."""
        if len(self._queue) >= self._ahead:
            return False
        self._take(text)
        return True

    async def _run(self) -> None:
        tap = self._tap
        try:
            async with aclosing(self._source) as events:
                if tap is not None:
                    tap.sink = self._push  # only ever called while the source waits inside
                async for event in events:
                    self._take(event)
                    if len(self._queue) >= self._ahead:
                        self._room = asyncio.get_running_loop().create_future()
                        await self._room
            self.post("end")
        except Exception as error:  # handed to the reader, in order
            self.post("failed", error)
        finally:
            if tap is not None:
                tap.sink = None
