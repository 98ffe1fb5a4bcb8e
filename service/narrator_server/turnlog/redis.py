"""The turn log on Redis: running turns shared by every server of a deployment.

Each turn's events go to a Redis stream (`redis_scripts` names the keys). The producer never
waits on Redis per token (`redis_producer`: gated buffers, one flusher and one heartbeat per
server). Other servers read a turn through
one mirror each (`redis_reader`); a mirror that finds the lease expired before the turn's
end reports the producer lost, and a follower takes the turn over.

When Redis cannot be reached: new turns, cross-server follows and watches fail with
`CoordinationUnavailable`; turns running here keep streaming to their local followers (the
gate opens) and are stored as usual.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from contextlib import aclosing
from typing import TYPE_CHECKING

from ..core.errors import Overloaded
from ..core.turnbuffer import TurnBuffer
from ..core.turnlog import SessionClosed, TurnClaimed
from ..shared.redis_client import FAILURES, ping, translated
from . import redis_codec, redis_scripts
from .redis_producer import Producers, RedisWriter, now_ms
from .redis_reader import Mirror, Reader, SessionFeed, Watcher

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from ..core.models import TurnEvent
    from ..core.turnlog import TurnInfo
    from ..shared.redis_client import Redis
    from .redis_scripts import TurnKeys

log = logging.getLogger(__name__)
Key = tuple[str, str]
SESSION_TURNS_MAXLEN = 1000
SESSION_TTL_MS = 24 * 3600 * 1000
WATCH_QUEUE = 256  # turn starts a watcher may lag behind


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
        self._start = redis.register_script(redis_scripts.START)
        self._take_over_script = redis.register_script(redis_scripts.TAKE_OVER)
        self._mirrors: dict[Key, Mirror] = {}
        self._opening: dict[Key, asyncio.Task[Mirror]] = {}
        self._sessions: dict[str, SessionFeed] = {}
        self._reader = Reader(redis, f"{prefix}:wake:{self.replica}", 0.1, 0.2)
        self._producers = Producers(
            redis, prefix=prefix, lease=lease, resume_window=resume_window,
            followed_keys=self._followed_keys,
        )  # fmt: skip
        self._tasks = self._producers.tasks  # flusher, heartbeat (tests stop them to fake a crash)

    @property
    def healthy(self) -> bool:
        return self._producers.healthy

    def _followed_keys(self) -> list[str]:
        """Turns produced elsewhere that followers here read (kept from being reaped)."""
        return [
            m.keys.followed for m in self._mirrors.values()
            if m.buffer.followers and not m.buffer.done
        ]  # fmt: skip

    @property
    def running(self) -> int:
        return len(self._producers.writers)

    def _keys(self, session_id: str, turn_id: str) -> TurnKeys:
        return redis_scripts.turn_keys(self._prefix, session_id, turn_id)

    def _token(self) -> str:
        return f"{self.replica}:{uuid.uuid4().hex[:16]}"

    # --- producing ------------------------------------------------------------------------

    async def start(self, info: TurnInfo, max_running: int) -> RedisWriter:
        keys, token = self._keys(info.session_id, info.turn_id), self._token()
        producers = self._producers
        with translated():
            result = await self._start(
                keys=[keys.lease, keys.events, keys.running, keys.session_running,
                      keys.session_turns],
                args=[token, now_ms(), producers.lease_ms, max_running, keys.member, info.turn_id,
                      redis_codec.encode_info(info), producers.running_ttl_ms, SESSION_TTL_MS,
                      self._prefix, SESSION_TURNS_MAXLEN],
            )  # fmt: skip
        if result == 0:
            raise TurnClaimed(info.turn_id)
        if result == -1:
            raise Overloaded(
                f"the deployment is at its limit of {max_running} running turns", retry_after=1.0
            )
        return self._producers.register(
            RedisWriter(self._producers, keys, token, TurnBuffer(info, gated=True))
        )

    # --- following --------------------------------------------------------------------------

    async def follow(self, session_id: str, turn_id: str) -> AsyncGenerator[TurnEvent]:
        writer = self._producers.writers.get((session_id, turn_id))
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
                args=[token, now_ms(), self._producers.lease_ms, keys.member, turn_id,
                      self._producers.running_ttl_ms, SESSION_TTL_MS, SESSION_TURNS_MAXLEN],
            )  # fmt: skip
        if not entries:
            return None
        mirror = Mirror(keys, session_id, turn_id)
        mirror.deliver([(entry_id, _fields(flat)) for entry_id, flat in entries])
        recorded = mirror.buffer
        buffer = TurnBuffer(recorded.info, gated=True)
        buffer.extend(recorded.events)
        buffer.publish(len(buffer.events))
        return self._producers.register(RedisWriter(self._producers, keys, token, buffer))

    async def alive(self, session_id: str, turn_id: str) -> bool:
        if (session_id, turn_id) in self._producers.writers:
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
        await self._producers.close()
        await self._reader.close()


def _ended(payload: str) -> bool:
    return isinstance(redis_codec.decode(payload), redis_codec.End)


def _fields(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))
