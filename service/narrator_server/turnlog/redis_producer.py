"""The producing side of the Redis turn log: this server's running turns.

Their buffers are gated: one flusher per server seals what every turn accumulated, writes it
all in one pipeline of fenced script calls, then publishes it to the local followers (text
keeps merging while a write is in flight). One heartbeat per server renews all its leases in
one call every third of a lease, and keeps alive the marks of the turns other servers produce
that this server's followers read. While Redis cannot be reached, the gates open: local
followers go on, and the writes are retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..core.turnlog import ProducerLost
from ..shared.redis_client import FAILURES, stop_tasks
from . import redis_codec, redis_scripts

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.turnbuffer import TurnBuffer
    from ..shared.redis_client import Redis
    from .redis_scripts import TurnKeys

log = logging.getLogger(__name__)
Key = tuple[str, str]
MAX_STREAM_ENTRIES = 20_000  # per turn: far more deltas than a turn of max_tokens sends
RETRY_S = 0.5


class RedisWriter:
    """A turn this server produces."""

    def __init__(self, owner: Producers, keys: TurnKeys, token: str, buffer: TurnBuffer) -> None:
        self._owner = owner
        self.keys = keys
        self.token = token
        self.buffer = buffer
        self.lost = False
        self.written = len(buffer.events)  # events[:written] are in the stream
        self.end_written = False
        self.finished: asyncio.Future[None] | None = None

    async def followed_elsewhere(self) -> bool:
        return await self._owner.followed(self)

    async def held(self) -> bool:
        return await self._owner.hold(self)

    async def finish(self) -> None:
        await self._owner.finish(self)


class Producers:
    """This server's writers, their flusher and their heartbeat."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        lease: float,
        resume_window: float,
        followed_keys: Callable[[], list[str]],
    ) -> None:
        self._redis = redis
        self._running_key = f"{prefix}:running"
        self.lease_ms = int(lease * 1000)
        self._interval = lease / 3
        # A running turn's stream outlives a dead producer long enough to be taken over.
        self.running_ttl_ms = int((resume_window + 2 * lease) * 1000)
        self._ended_ttl_ms = int((resume_window + lease) * 1000)
        self._followed_keys = followed_keys
        self._flush_script = redis.register_script(redis_scripts.FLUSH)
        self._heartbeat_script = redis.register_script(redis_scripts.HEARTBEAT)
        self.writers: dict[Key, RedisWriter] = {}
        self._dirty: dict[RedisWriter, None] = {}
        self._wake = asyncio.Event()
        self.healthy = True
        self.closing = False
        loop = asyncio.get_running_loop()
        self.tasks = [
            loop.create_task(self._flusher(), name="turnlog-flusher"),
            loop.create_task(self._heartbeats(), name="turnlog-heartbeat"),
        ]

    def register(self, writer: RedisWriter) -> RedisWriter:
        info = writer.buffer.info
        self.writers[(info.session_id, info.turn_id)] = writer
        writer.buffer.on_change = lambda: self._mark(writer)
        return writer

    def forget(self, writer: RedisWriter) -> None:
        info = writer.buffer.info
        key = (info.session_id, info.turn_id)
        if self.writers.get(key) is writer:
            del self.writers[key]
        writer.buffer.on_change = None
        self._dirty.pop(writer, None)

    def _mark(self, writer: RedisWriter) -> None:
        self._dirty[writer] = None
        self._wake.set()

    async def finish(self, writer: RedisWriter) -> None:
        if writer.lost:
            self.forget(writer)
            return
        writer.finished = asyncio.get_running_loop().create_future()
        self._mark(writer)
        try:
            await asyncio.shield(writer.finished)
        finally:
            self.forget(writer)

    async def _flusher(self) -> None:
        while not self.closing:
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
                      self._ended_ttl_ms if release else self.running_ttl_ms, int(release),
                      k.member, buffer.info.turn_id, self.lease_ms, w.written, *payloads],
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
                self.lose(w)
                continue
            w.written, w.end_written = upto, w.end_written or end
            w.buffer.publish(upto)
            if w.finished is not None:
                _resolve(w.finished)

    def lose(self, writer: RedisWriter) -> None:
        """Another server took the turn over: stop, and send the local followers to it."""
        if writer.lost:
            return
        writer.lost = True
        info = writer.buffer.info
        log.warning(
            "this server lost a turn's lease; another one continues it",
            extra={"session_id": info.session_id, "turn_id": info.turn_id},
        )
        buffer = writer.buffer
        buffer.retract()
        buffer.end(ProducerLost(tuple(buffer.events)))
        buffer.publish(len(buffer.events))  # wakes the followers for the end
        if writer.finished is not None:
            _resolve(writer.finished)
        self.forget(writer)

    async def _heartbeats(self) -> None:
        while not self.closing:
            await asyncio.sleep(self._interval)
            try:
                await self._beat()
                self._up()
            except FAILURES as error:
                self._down(error)

    async def _beat(self) -> None:
        writers = [w for w in self.writers.values() if not w.lost and w.finished is None]
        followed = self._followed_keys()
        if not writers and not followed:
            await self._redis.ping()
            return
        args: list[str | int] = [now_ms(), self.lease_ms, self.running_ttl_ms,
                                 int(self._interval * 3000), len(writers)]  # fmt: skip
        for w in writers:
            k = w.keys
            args += [k.lease, k.events, k.member, w.token, w.written - 1]
        lost = await self._heartbeat_script(keys=[self._running_key], args=[*args, *followed])
        for position in lost:
            self.lose(writers[int(position) - 1])

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

    async def hold(self, writer: RedisWriter) -> bool:
        """Renews one lease now (the heartbeat's script for one turn); False once lost."""
        if writer.lost:
            return False
        k = writer.keys
        last = writer.written - 1
        args: list[str | int] = [now_ms(), self.lease_ms, self.running_ttl_ms, 0, 1,
                k.lease, k.events, k.member, writer.token, last]  # fmt: skip
        try:
            lost = await self._heartbeat_script(keys=[self._running_key], args=args)
        except FAILURES:
            return True  # a finished turn is never dropped for coordination trouble
        if lost:
            self.lose(writer)
            return False
        return True

    async def followed(self, writer: RedisWriter) -> bool:
        try:
            return bool(await self._redis.exists(writer.keys.followed))
        except FAILURES:
            return False  # nobody elsewhere can follow it while Redis is away

    async def close(self) -> None:
        self.closing = True
        await stop_tasks(self.tasks)


def now_ms() -> int:
    return int(time.time() * 1000)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
