"""The in-process turn log: the embedded default, for one server. Nothing outlives it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..core.errors import Overloaded
from ..core.turnbuffer import TurnBuffer
from ..core.turnlog import SessionClosed, TurnClaimed

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from ..core.models import TurnEvent
    from ..core.turnlog import TurnInfo

Key = tuple[str, str]


class LocalWriter:
    """A running turn of this process; its lease can never be lost."""

    lost = False

    def __init__(self, owner: LocalTurnLog, buffer: TurnBuffer) -> None:
        self._owner = owner
        self.buffer = buffer

    async def followed_elsewhere(self) -> bool:
        return False

    async def held(self) -> bool:
        return True

    async def finish(self) -> None:
        self._owner._finished(self.buffer)


class LocalTurnLog:
    """`TurnLog` in this process: buffers by (session, turn), watchers by session. An ended
    turn's buffer is kept for `keep_s` seconds, so late followers and watchers still get it."""

    def __init__(self, keep_s: float = 10.0) -> None:
        self._keep_s = keep_s
        self._turns: dict[Key, TurnBuffer] = {}
        self._running: set[Key] = set()
        self._watchers: dict[str, set[asyncio.Queue[TurnInfo | SessionClosed]]] = {}

    @property
    def running(self) -> int:
        return len(self._running)

    async def start(self, info: TurnInfo, max_running: int) -> LocalWriter:
        key = (info.session_id, info.turn_id)
        if key in self._turns:
            raise TurnClaimed(info.turn_id)
        if len(self._running) >= max_running:
            raise Overloaded(f"the server is at its limit of {max_running} running turns")
        buffer = TurnBuffer(info)
        self._turns[key] = buffer
        self._running.add(key)
        for queue in self._watchers.get(info.session_id, ()):
            queue.put_nowait(info)
        return LocalWriter(self, buffer)

    def _finished(self, buffer: TurnBuffer) -> None:
        key = (buffer.info.session_id, buffer.info.turn_id)
        self._running.discard(key)

        def forget() -> None:
            if self._turns.get(key) is buffer:
                del self._turns[key]

        if self._keep_s > 0:
            asyncio.get_running_loop().call_later(self._keep_s, forget)
        else:
            forget()

    def follow(self, session_id: str, turn_id: str) -> AsyncGenerator[TurnEvent]:
        buffer = self._turns.get((session_id, turn_id))
        if buffer is None:
            raise LookupError(turn_id)
        return buffer.follow()

    async def take_over(self, session_id: str, turn_id: str) -> LocalWriter | None:
        return None  # a turn of this process never loses its producer without the process

    async def watch(self, session_id: str) -> AsyncGenerator[TurnInfo | SessionClosed]:
        queue: asyncio.Queue[TurnInfo | SessionClosed] = asyncio.Queue()
        for key in list(self._running):
            if key[0] == session_id:
                queue.put_nowait(self._turns[key].info)
        watchers = self._watchers.setdefault(session_id, set())
        watchers.add(queue)
        try:
            while True:
                item = await queue.get()
                yield item
                if isinstance(item, SessionClosed):
                    return
        finally:
            watchers.discard(queue)
            if not watchers:
                self._watchers.pop(session_id, None)

    def watching(self, session_id: str) -> int:
        """How many watchers of the session this process has."""
        return len(self._watchers.get(session_id, ()))

    async def close_session(self, session_id: str) -> None:
        for queue in self._watchers.get(session_id, ()):
            queue.put_nowait(SessionClosed(session_id))

    async def check(self) -> None:
        pass

    async def alive(self, session_id: str, turn_id: str) -> bool:
        return (session_id, turn_id) in self._running

    async def close(self) -> None:
        pass
