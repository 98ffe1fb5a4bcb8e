"""The engine's books: which turns run in tasks, which are still being stored, which a failing
store could not take, and the reapers of abandoned resumable turns."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import aclosing
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .models import Turn, TurnEvent
    from .turnlog import TurnWriter

Key = tuple[str, str]


class TurnBook:
    def __init__(self, resume_window: float) -> None:
        self.resume_window = resume_window
        self.tasks: dict[Key, asyncio.Task[None]] = {}
        self.unsaved: dict[Key, Turn] = {}  # ended turns a failing store could not take yet
        self.producing = 0  # turns from their first step until they are stored (or kept)
        self._stopping: set[Key] = set()  # tasks cancelled once already
        self._reapers: dict[Key, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.producing += 1
        self._idle.clear()

    def produced(self) -> None:
        self.producing -= 1
        if not self.producing:
            self._idle.set()

    async def idle(self) -> None:
        """Returns once no turn is being produced or stored."""
        await self._idle.wait()

    def spawn(self, writer: TurnWriter, production: AsyncGenerator[TurnEvent]) -> None:
        """Runs a resumable turn's production in its own task; its followers read its buffer."""
        key = (writer.buffer.info.session_id, writer.buffer.info.turn_id)

        async def run() -> None:
            with contextlib.suppress(Exception):  # delivered to followers by the buffer
                async with aclosing(production) as events:
                    async for _ in events:
                        pass

        def done(_: asyncio.Task[None]) -> None:
            self.tasks.pop(key, None)
            self._stopping.discard(key)
            reaper = self._reapers.pop(key, None)
            if reaper is not None:
                reaper.cancel()

        task = asyncio.get_running_loop().create_task(run(), name=f"turn-{key[1]}")
        self.tasks[key] = task
        task.add_done_callback(done)
        writer.buffer.on_abandoned = lambda: self._abandoned(key, writer)

    def stop(self, key: Key) -> None:
        """Cancels a running turn, once: a second cancellation would only cut its ending."""
        task = self.tasks.get(key)
        if task is not None and key not in self._stopping:
            self._stopping.add(key)
            task.cancel()

    def stop_all(self) -> None:
        for reaper in list(self._reapers.values()):
            reaper.cancel()
        for key in list(self.tasks):
            self.stop(key)

    def _abandoned(self, key: Key, writer: TurnWriter) -> None:
        """The last follower left a resumable turn: cancel it unless one comes back within
        the resume window (here or on another server). The window counts from the last
        follower's departure."""

        async def reap() -> None:
            while True:  # a follower on another server keeps it going, window after window
                await asyncio.sleep(self.resume_window)
                if writer.buffer.followers or writer.buffer.done or writer.lost:
                    stop = False  # a follower is back here (its leaving reaps again), or it ended
                    break
                if not await writer.followed_elsewhere():
                    stop = True
                    break
            if self._reapers.get(key) is asyncio.current_task():
                del self._reapers[key]
            if stop:
                self.stop(key)

        earlier = self._reapers.pop(key, None)
        if earlier is not None:
            earlier.cancel()
        if key in self.tasks:
            loop = asyncio.get_running_loop()
            self._reapers[key] = loop.create_task(reap(), name=f"reap-{key[1]}")
