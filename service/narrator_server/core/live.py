"""Live turns: a turn runs in its own task and any number of streams follow it.

Following from a seq gives the deltas after it, then the rest live: a client that lost its
connection joins the same turn again. When the last follower leaves, a resumable turn waits
`window` seconds for one to come back before it is cancelled; any other turn is cancelled at
once (the player skipped it).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from .errors import TurnAborted
from .models import TextDelta, TurnStarted

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable

    from .models import TurnEvent, TurnKind


class LiveTurn:
    """The events of one running turn, kept for followers, and the task producing them."""

    def __init__(
        self, turn_id: str, session_id: str, kind: TurnKind, resumable: bool, window: float
    ) -> None:
        self.turn_id = turn_id
        self.session_id = session_id
        self.kind = kind
        self.resumable = resumable
        self._window = window
        self._events: list[TurnEvent] = []
        self._error: BaseException | None = None
        self._done = False
        self._waiters: list[asyncio.Future[None]] = []
        self._followers = 0
        self._reaper: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None

    async def produce(self, events: AsyncIterator[TurnEvent]) -> None:
        try:
            async for event in events:
                self._events.append(event)
                self._notify()
        except BaseException as error:
            self._error = error
            if isinstance(error, Exception):
                return  # delivered to the followers; nothing else awaits this task's result
            raise
        finally:
            self._done = True
            self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for wake in waiters:
            if not wake.done():
                wake.set_result(None)

    async def follow(self, after_seq: int = 0, resumed: bool = False) -> AsyncGenerator[TurnEvent]:
        """The turn's events, without deltas up to `after_seq`; raises the turn's error."""
        self._followers += 1
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        try:
            i = 0
            while True:
                while i < len(self._events):
                    event = self._events[i]
                    i += 1
                    if isinstance(event, TextDelta):
                        if event.seq > after_seq:
                            yield event
                    elif isinstance(event, TurnStarted) and resumed:
                        yield TurnStarted(event.turn_id, event.provider, event.model, True)
                    else:
                        yield event
                if self._done:
                    break
                wake = asyncio.get_running_loop().create_future()
                self._waiters.append(wake)
                await wake
            if isinstance(self._error, Exception):
                raise self._error
            if self._error is not None:
                raise TurnAborted(f"turn {self.turn_id!r} was cancelled before it completed")
        finally:
            self._followers -= 1
            if not self._followers and not self._done:
                self._abandoned()

    def _abandoned(self) -> None:
        if self.resumable and self._window > 0:
            loop = asyncio.get_running_loop()
            self._reaper = loop.call_later(self._window, self._cancel_if_abandoned)
        else:
            self._cancel_if_abandoned()

    def _cancel_if_abandoned(self) -> None:
        if not self._followers and self.task is not None and not self._done:
            self.task.cancel()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


class LiveTurns:
    """The registry of running turns, by turn id."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._turns: dict[str, LiveTurn] = {}

    def get(self, turn_id: str) -> LiveTurn | None:
        return self._turns.get(turn_id)

    def start(
        self,
        turn_id: str,
        session_id: str,
        kind: TurnKind,
        resumable: bool,
        events: Callable[[], AsyncIterator[TurnEvent]],
    ) -> LiveTurn:
        live = LiveTurn(turn_id, session_id, kind, resumable, self._window)
        self._turns[turn_id] = live

        async def run() -> None:
            try:
                await live.produce(events())
            finally:
                self._turns.pop(turn_id, None)

        live.task = asyncio.get_running_loop().create_task(run(), name=f"turn-{turn_id}")
        return live

    async def cancel_all(self) -> None:
        """Cancels every running turn and waits for each to be stored."""
        turns = list(self._turns.values())
        for live in turns:
            live.cancel()
        for live in turns:
            if live.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await live.task

    def __len__(self) -> int:
        return len(self._turns)
