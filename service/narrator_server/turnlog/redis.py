"""The turn log on Redis: running turns shared by every server of a deployment.

Each turn's events go to a Redis stream (`redis_scripts` names the keys). The producer never
waits on Redis per token: its buffer is gated, and one flusher per server seals what every
turn accumulated, writes it all in one pipeline of fenced script calls, then publishes it to
the local followers (text keeps merging while a write is in flight). One heartbeat per server
renews all its leases in one call every third of a lease. Other servers read a turn through
one mirror each (`redis_reader`); a mirror that finds the lease expired before the turn's
end reports the producer lost, and a follower takes the turn over.

When Redis cannot be reached: new turns, cross-server follows and watches fail with
`CoordinationUnavailable`; turns running here keep streaming to their local followers (the
gate opens) and are stored as usual.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from contextlib import aclosing
from typing import TYPE_CHECKING

from ..core.errors import Overloaded
from ..core.turnbuffer import TurnBuffer
from ..core.turnlog import ProducerLost, SessionClosed, TurnClaimed
from ..shared.redis_client import FAILURES, ping, translated
from . import redis_codec, redis_scripts
from .redis_reader import Mirror, Reader, SessionFeed, Watcher

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from ..core.models import TurnEvent
    from ..core.turnlog import TurnInfo
    from ..shared.redis_client import Redis
    from .redis_scripts import TurnKeys

log = logging.getLogger(__name__)
Key = tuple[str, str]
MAX_STREAM_ENTRIES = 20_000  # per turn: far more deltas than a turn of max_tokens sends
SESSION_TURNS_MAXLEN = 1000
SESSION_TTL_MS = 24 * 3600 * 1000
WATCH_QUEUE = 256  # turn starts a watcher may lag behind
RETRY_S = 0.5


class RedisWriter:
    """A turn this server produces."""

    def __init__(self, owner: RedisTurnLog, keys: TurnKeys, token: str, buffer: TurnBuffer) -> None:
        self._owner = owner
        self.keys = keys
        self.token = token
        self.buffer = buffer
        self.lost = False
        self.written = len(buffer.events)  # events[:written] are in the stream
        self.end_written = False
        self.finished: asyncio.Future[None] | None = None

    async def followed_elsewhere(self) -> bool:
        return await self._owner._followed(self)

    async def finish(self) -> None:
        await self._owner._finish(self)


class RedisTurnLog:
    """`TurnLog` on Redis. Owns its background tasks, not the client."""

    def __init__(
        self,
        redis: Redis,
        *,
        lease: float,
        resume_window: float,
        prefix: str = "narrator",
        replica: str = "",
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.replica = replica or uuid.uuid4().hex[:12]
        self._lease_ms = int(lease * 1000)
        self._interval = lease / 3
        # A running turn's stream outlives a dead producer long enough to be taken over.
        self._running_ttl_ms = int((resume_window + 2 * lease) * 1000)
        self._ended_ttl_ms = int((resume_window + lease) * 1000)
        self._start = redis.register_script(redis_scripts.START)
        self._flush_script = redis.register_script(redis_scripts.FLUSH)
        self._heartbeat_script = redis.register_script(redis_scripts.HEARTBEAT)
        self._take_over_script = redis.register_script(redis_scripts.TAKE_OVER)
        self._writers: dict[Key, RedisWriter] = {}
        self._mirrors: dict[Key, Mirror] = {}
        self._opening: dict[Key, asyncio.Task[Mirror]] = {}
        self._sessions: dict[str, SessionFeed] = {}
        self._dirty: dict[RedisWriter, None] = {}
        self._wake = asyncio.Event()
        self._reader = Reader(redis, f"{prefix}:wake:{self.replica}", 0.1, 0.2)
        self.healthy = True
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._flusher(), name="turnlog-flusher"),
            loop.create_task(self._heartbeats(), name="turnlog-heartbeat"),
        ]

    @property
    def running(self) -> int:
        return len(self._writers)

    def _keys(self, session_id: str, turn_id: str) -> TurnKeys:
        return redis_scripts.turn_keys(self._prefix, session_id, turn_id)

    def _token(self) -> str:
        return f"{self.replica}:{uuid.uuid4().hex[:16]}"

    # --- producing ------------------------------------------------------------------------

    async def start(self, info: TurnInfo, max_running: int) -> RedisWriter:
        keys, token = self._keys(info.session_id, info.turn_id), self._token()
        with translated():
            result = await self._start(
                keys=[keys.lease, keys.events, keys.running, keys.session_running,
                      keys.session_turns],
                args=[token, _now_ms(), self._lease_ms, max_running, keys.member, info.turn_id,
                      redis_codec.encode_info(info), self._running_ttl_ms, SESSION_TTL_MS,
                      self._prefix, SESSION_TURNS_MAXLEN],
            )  # fmt: skip
        if result == 0:
            raise TurnClaimed(info.turn_id)
        if result == -1:
            raise Overloaded(
                f"the deployment is at its limit of {max_running} running turns", retry_after=1.0
            )
        return self._register(RedisWriter(self, keys, token, TurnBuffer(info, gated=True)))

    def _register(self, writer: RedisWriter) -> RedisWriter:
        info = writer.buffer.info
        self._writers[(info.session_id, info.turn_id)] = writer
        writer.buffer.on_change = lambda: self._mark(writer)
        return writer

    def _forget(self, writer: RedisWriter) -> None:
        info = writer.buffer.info
        key = (info.session_id, info.turn_id)
        if self._writers.get(key) is writer:
            del self._writers[key]
        writer.buffer.on_change = None
        self._dirty.pop(writer, None)

    def _mark(self, writer: RedisWriter) -> None:
        self._dirty[writer] = None
        self._wake.set()

    async def _finish(self, writer: RedisWriter) -> None:
        if writer.lost:
            self._forget(writer)
            return
        writer.finished = asyncio.get_running_loop().create_future()
        self._mark(writer)
        try:
            await asyncio.shield(writer.finished)
        finally:
            self._forget(writer)

    async def _flusher(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            writers, self._dirty = list(self._dirty), {}
            try:
                await self._flush(writers)
                self._up()
            except FAILURES as error:
                self._down(error)
                for writer in writers:
                    writer.buffer.publish(None)  # local followers go on without Redis
                    if writer.finished is not None:
                        _resolve(writer.finished)  # its keys expire by themselves
                    elif not writer.lost:
                        self._dirty[writer] = None
                await asyncio.sleep(RETRY_S)
                if self._dirty:
                    self._wake.set()

    async def _flush(self, writers: list[RedisWriter]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        calls: list[tuple[RedisWriter, int, bool]] = []
        for w in writers:
            if w.lost:
                continue
            buffer = w.buffer
            buffer.seal()
            upto = buffer.sealed
            payloads = [redis_codec.encode(e) for e in buffer.events[w.written : upto]]
            end = buffer.done and not w.end_written
            if end:
                payloads.append(redis_codec.encode(redis_codec.End(buffer.error)))
            release = w.finished is not None
            if not payloads and not release:
                continue
            k = w.keys
            await self._flush_script(
                keys=[k.lease, k.events, k.running, k.session_running],
                args=[w.token, MAX_STREAM_ENTRIES,
                      self._ended_ttl_ms if release else self._running_ttl_ms, int(release),
                      k.member, buffer.info.turn_id, self._lease_ms, w.written, *payloads],
                client=pipe,
            )  # fmt: skip
            calls.append((w, upto, end))
        if not calls:
            return
        results = await pipe.execute(raise_on_error=False)
        for (w, upto, end), result in zip(calls, results, strict=True):
            if isinstance(result, Exception):
                raise result
            if result == -1:
                self._lose(w)
                continue
            w.written, w.end_written = upto, w.end_written or end
            w.buffer.publish(upto)
            if w.finished is not None:
                _resolve(w.finished)

    def _lose(self, writer: RedisWriter) -> None:
        """Another server took the turn over: stop, and send the local followers to it."""
        if writer.lost:
            return
        writer.lost = True
        info = writer.buffer.info
        log.warning(
            "this server lost a turn's lease; another one continues it",
            extra={
                "session_id": info.session_id,
                "turn_id": info.turn_id,
                "replica": self.replica,
                "token": writer.token,
            },
        )
        buffer = writer.buffer
        buffer.retract()
        buffer.end(ProducerLost(tuple(buffer.events)))
        buffer.publish(len(buffer.events))  # wakes the followers for the end
        if writer.finished is not None:
            _resolve(writer.finished)
        self._forget(writer)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._beat()
                self._up()
            except FAILURES as error:
                self._down(error)

    async def _beat(self) -> None:
        writers = [w for w in self._writers.values() if not w.lost and w.finished is None]
        followed = [
            m.keys.followed for m in self._mirrors.values()
            if m.buffer.followers and not m.buffer.done
        ]  # fmt: skip
        if not writers and not followed:
            await self._redis.ping()
            return
        args: list[str | int] = [_now_ms(), self._lease_ms, self._running_ttl_ms,
                                 int(self._interval * 3000), len(writers)]  # fmt: skip
        for w in writers:
            k = w.keys
            args += [k.lease, k.events, k.member, w.token, w.written - 1]
        running = f"{self._prefix}:running"
        lost = await self._heartbeat_script(keys=[running], args=[*args, *followed])
        for position in lost:
            self._lose(writers[int(position) - 1])

    def _up(self) -> None:
        if not self.healthy:
            self.healthy = True
            log.info("Redis is reachable again")

    def _down(self, error: BaseException) -> None:
        if self.healthy:
            self.healthy = False
            log.error(
                "Redis cannot be reached: new turns are refused, running turns go on here",
                extra={"error_type": type(error).__name__},
            )

    async def _followed(self, writer: RedisWriter) -> bool:
        try:
            return bool(await self._redis.exists(writer.keys.followed))
        except FAILURES:
            return False  # nobody elsewhere can follow it while Redis is away

    # --- following --------------------------------------------------------------------------

    async def follow(self, session_id: str, turn_id: str) -> AsyncGenerator[TurnEvent]:
        writer = self._writers.get((session_id, turn_id))
        buffer = writer.buffer if writer is not None else await self._mirror(session_id, turn_id)
        async with aclosing(buffer.follow()) as events:
            async for event in events:
                yield event

    async def _mirror(self, session_id: str, turn_id: str) -> TurnBuffer:
        key = (session_id, turn_id)
        mirror = self._mirrors.get(key)
        if mirror is not None and not mirror.buffer.done:
            return mirror.buffer
        opening = self._opening.get(key)
        if opening is None:
            opening = asyncio.get_running_loop().create_task(self._open_mirror(*key))
            self._opening[key] = opening
            opening.add_done_callback(lambda _: self._opening.pop(key, None))
        return (await asyncio.shield(opening)).buffer

    async def _open_mirror(self, session_id: str, turn_id: str) -> Mirror:
        keys = self._keys(session_id, turn_id)
        with translated():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(keys.lease)
            pipe.xrange(keys.events, "-", "+")
            held, entries = await pipe.execute()
        if not entries:
            raise LookupError(turn_id)
        mirror = Mirror(keys, session_id, turn_id)
        mirror.deliver(entries)
        if not mirror.buffer.done:
            if not held:
                mirror.lost()
                return mirror
            self._mirrors[(session_id, turn_id)] = mirror
            mirror.buffer.on_abandoned = lambda: self._drop(mirror)
            mirror.buffer.on_change = lambda: self._ended(mirror)
            self._reader.add(mirror)
            await self._reader.wake()
        return mirror

    def _ended(self, mirror: Mirror) -> None:
        if mirror.buffer.done:
            self._drop(mirror)

    def _drop(self, mirror: Mirror) -> None:
        info = mirror.buffer.info
        key = (info.session_id, info.turn_id)
        if self._mirrors.get(key) is mirror:
            del self._mirrors[key]
        self._reader.remove(mirror)

    async def take_over(self, session_id: str, turn_id: str) -> RedisWriter | None:
        keys, token = self._keys(session_id, turn_id), self._token()
        with translated():
            entries = await self._take_over_script(
                keys=[keys.lease, keys.events, keys.running, keys.session_running,
                      keys.session_turns],
                args=[token, _now_ms(), self._lease_ms, keys.member, turn_id,
                      self._running_ttl_ms, SESSION_TTL_MS, SESSION_TURNS_MAXLEN],
            )  # fmt: skip
        if not entries:
            return None
        mirror = Mirror(keys, session_id, turn_id)
        mirror.deliver([(entry_id, _fields(flat)) for entry_id, flat in entries])
        recorded = mirror.buffer
        buffer = TurnBuffer(recorded.info, gated=True)
        buffer.extend(recorded.events)
        buffer.publish(len(buffer.events))
        return self._register(RedisWriter(self, keys, token, buffer))

    async def alive(self, session_id: str, turn_id: str) -> bool:
        if (session_id, turn_id) in self._writers:
            return True
        keys = self._keys(session_id, turn_id)
        with translated():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(keys.lease)
            pipe.xrevrange(keys.events, "+", "-", count=1)
            held, top = await pipe.execute()
        if held:
            return True
        # No producer: alive while it can still be taken over (recorded, and not ended).
        return bool(top) and not (int(top[0][1]["i"]) >= 0 and _ended(top[0][1]["e"]))

    # --- sessions ---------------------------------------------------------------------------

    async def watch(self, session_id: str) -> AsyncGenerator[TurnInfo | SessionClosed]:
        running_key, turns_key = redis_scripts.session_keys(self._prefix, session_id)
        with translated():
            pipe = self._redis.pipeline(transaction=True)
            pipe.xrevrange(turns_key, "+", "-", count=1)
            pipe.hgetall(running_key)
            top, running = await pipe.execute()
        feed = self._sessions.get(session_id)
        if feed is None or feed.closed:
            feed = self._sessions[session_id] = SessionFeed(turns_key, session_id)
            feed.last_id = top[0][0] if top else "0-0"
        watcher = Watcher(WATCH_QUEUE)
        feed.watchers.add(watcher)
        self._reader.add(feed)
        await self._reader.wake()
        seen: collections.deque[str] = collections.deque(maxlen=4 * WATCH_QUEUE)
        try:
            for value in sorted(running.values(), key=lambda v: int(v.split(" ", 1)[0])):
                info = redis_codec.decode_info(value.split(" ", 1)[1])
                seen.append(info.turn_id)
                yield info
            while True:
                item = await watcher.items.get()
                if isinstance(item, Exception):
                    raise item
                if isinstance(item, SessionClosed):
                    yield item
                    return
                if item.turn_id not in seen:
                    seen.append(item.turn_id)
                    yield item
        finally:
            feed.watchers.discard(watcher)
            if not feed.watchers:
                self._reader.remove(feed)
                if self._sessions.get(session_id) is feed:
                    del self._sessions[session_id]

    async def close_session(self, session_id: str) -> None:
        running_key, turns_key = redis_scripts.session_keys(self._prefix, session_id)
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.xadd(turns_key, {"closed": "1"}, maxlen=SESSION_TURNS_MAXLEN)
            pipe.pexpire(turns_key, 60_000)
            pipe.delete(running_key)
            await pipe.execute()
        except FAILURES:
            log.warning("a deleted session's watchers on other servers could not be told")
            feed = self._sessions.get(session_id)
            if feed is not None:
                feed.deliver([("0-0", {"closed": "1"})])

    async def check(self) -> None:
        await ping(self._redis)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._reader.close()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _ended(payload: str) -> bool:
    return isinstance(redis_codec.decode(payload), redis_codec.End)


def _fields(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))
