"""One blocking XREAD per server for every stream it follows, fanned out in process.

Feeds are the streams this server reads: a `Mirror` per turn produced elsewhere (its events
go into one `TurnBuffer` that all of this server's followers of the turn read) and a
`SessionFeed` per watched session (its turn starts go to each local watcher). Adding a feed
wakes the blocked read through this server's own wake stream. A mirror that receives nothing
for a while checks its producer's lease: a turn whose lease expired before its end is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from ..core.errors import CoordinationUnavailable, Overloaded, TurnAborted
from ..core.models import TurnKind
from ..core.turnbuffer import TurnBuffer
from ..core.turnlog import ProducerLost, SessionClosed, TurnInfo
from ..shared.redis_client import FAILURES, stop_tasks, unavailable
from . import redis_codec

if TYPE_CHECKING:
    from ..core.models import TurnEvent
    from ..shared.redis_client import Redis
    from .redis_scripts import TurnKeys

log = logging.getLogger(__name__)
Entry = tuple[str, dict[str, str]]


class Feed(Protocol):
    key: str
    last_id: str

    @property
    def done(self) -> bool: ...

    def deliver(self, entries: list[Entry]) -> None: ...

    def fail(self, error: Exception) -> None: ...


class Mirror:
    """Another server's turn, as read from its stream."""

    def __init__(self, keys: TurnKeys, session_id: str, turn_id: str) -> None:
        self.keys = keys
        self.key = keys.events
        self.last_id = "0-0"
        self.seen = time.monotonic()
        self.buffer = TurnBuffer(TurnInfo(session_id, turn_id, TurnKind.NARRATION, ""))

    @property
    def done(self) -> bool:
        return self.buffer.done

    def deliver(self, entries: list[Entry]) -> None:
        self.seen = time.monotonic()
        buffer = self.buffer
        new: list[TurnEvent] = []
        for entry_id, fields in entries:
            self.last_id = entry_id
            if buffer.done:
                break
            index = int(fields["i"])
            if index < 0:
                buffer.info = redis_codec.decode_info(fields["info"])
                continue
            expected = len(buffer.events) + len(new)
            if index < expected:
                continue  # already here
            if index > expected:
                buffer.extend(new)
                buffer.end(TurnAborted("the turn is too long to be followed from its start"))
                return
            event = redis_codec.decode(fields["e"])
            if isinstance(event, redis_codec.End):
                buffer.extend(new)
                buffer.end(event.error)
                return
            new.append(event)
        if new:
            buffer.extend(new)

    def lost(self) -> None:
        events: tuple[TurnEvent, ...] = tuple(self.buffer.events)
        self.buffer.end(ProducerLost(events))

    def fail(self, error: Exception) -> None:
        if not self.buffer.done:
            self.buffer.end(error)


class Watcher:
    """One local watcher of a session: a bounded queue of turn starts."""

    def __init__(self, limit: int) -> None:
        self.items: asyncio.Queue[TurnInfo | SessionClosed | Exception] = asyncio.Queue()
        self.limit = limit

    def put(self, item: TurnInfo | SessionClosed | Exception) -> None:
        if self.items.qsize() >= self.limit and isinstance(item, TurnInfo):
            item = Overloaded("the watcher fell too far behind the session's turn starts")
        self.items.put_nowait(item)


class SessionFeed:
    """A watched session's turn starts, for this server's watchers of it."""

    def __init__(self, key: str, session_id: str) -> None:
        self.key = key
        self.session_id = session_id
        self.last_id = "0-0"
        self.watchers: set[Watcher] = set()
        self.closed = False

    @property
    def done(self) -> bool:
        return self.closed or not self.watchers

    def deliver(self, entries: list[Entry]) -> None:
        for entry_id, fields in entries:
            self.last_id = entry_id
            item: TurnInfo | SessionClosed
            if "closed" in fields:
                item, self.closed = SessionClosed(self.session_id), True
            else:
                item = redis_codec.decode_info(fields["info"])
            for watcher in self.watchers:
                watcher.put(item)

    def fail(self, error: Exception) -> None:
        for watcher in self.watchers:
            watcher.put(error)


class Reader:
    """The server's reading task over all its feeds."""

    def __init__(self, redis: Redis, wake_key: str, block_s: float, idle_s: float) -> None:
        self._redis = redis
        self._wake_key = wake_key
        self._wake_id = "$"
        self._block_ms = max(1, int(block_s * 1000))
        self._idle_s = idle_s
        self._feeds: dict[str, Feed] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def add(self, feed: Feed) -> None:
        self._feeds[feed.key] = feed
        self._changed.set()
        if not self._closing and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="redis-reader")

    def remove(self, feed: Feed) -> None:
        if self._feeds.get(feed.key) is feed:
            del self._feeds[feed.key]

    async def wake(self) -> None:
        """Makes the blocked read start over with the current feeds."""
        with contextlib.suppress(*FAILURES):
            pipe = self._redis.pipeline(transaction=False)
            pipe.xadd(self._wake_key, {"w": "1"}, maxlen=10)
            pipe.expire(self._wake_key, 3600)
            await pipe.execute()

    async def _run(self) -> None:
        while not self._closing:
            if not self._feeds:
                self._changed.clear()
                await self._changed.wait()
            self._changed.clear()
            streams = {key: feed.last_id for key, feed in self._feeds.items()}
            streams[self._wake_key] = self._wake_id
            try:
                reply: Any = await self._redis.xread(streams, count=1000, block=self._block_ms)  # type: ignore[arg-type]
                for key, entries in reply or ():
                    if key == self._wake_key:
                        self._wake_id = entries[-1][0]
                    elif (feed := self._feeds.get(key)) is not None:
                        feed.deliver(entries)
                        if feed.done:
                            self.remove(feed)
                await self._check_idle()
            except FAILURES as error:
                self._fail_all(unavailable(error))
                await asyncio.sleep(self._block_ms / 1000)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop every follower of this server
                log.exception("the turn log reader failed; its followers were ended")
                self._fail_all(CoordinationUnavailable("the turn log reader failed"))

    def _fail_all(self, error: Exception) -> None:
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            feed.fail(error)

    async def _check_idle(self) -> None:
        """Mirrors silent for a while: is their producer still alive?"""
        now = time.monotonic()
        idle = [
            f for f in self._feeds.values()
            if isinstance(f, Mirror) and now - f.seen >= self._idle_s
        ]  # fmt: skip
        if not idle:
            return
        pipe = self._redis.pipeline(transaction=False)
        for mirror in idle:
            pipe.exists(mirror.keys.lease)
        alive = await pipe.execute()
        for mirror, held in zip(idle, alive, strict=True):
            mirror.seen = now
            if held:
                continue
            # The lease is gone: read what is left; no end means its producer died.
            rest: Any = await self._redis.xrange(mirror.key, f"({mirror.last_id}", "+")
            mirror.deliver(rest)
            if not mirror.buffer.done:
                mirror.lost()
            self.remove(mirror)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            await stop_tasks([self._task])
        self._fail_all(CoordinationUnavailable("the server is stopping"))
