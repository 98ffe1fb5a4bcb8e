"""The Redis connection of a server, and the one place Redis errors become domain errors.

Every command has a connect and a read timeout (`NARRATOR_REDIS_TIMEOUT_S`), so an unreachable
Redis fails a call within that time instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..core.errors import CoordinationUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

log = logging.getLogger(__name__)
Redis = aioredis.Redis

# Redis errors, and the socket errors redis-py lets through while it reconnects.
FAILURES = (RedisError, OSError, TimeoutError)


def connect(url: str, timeout: float, max_connections: int = 256) -> Redis:
    """A client (a connection pool; nothing is connected until the first command)."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        socket_keepalive=True,
        health_check_interval=30,
        max_connections=max_connections,
        client_name="narrator",
    )


def unavailable(error: BaseException) -> CoordinationUnavailable:
    return CoordinationUnavailable(
        f"the deployment's shared state (Redis) cannot be reached: {type(error).__name__}"
    )


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Redis and socket errors inside become `CoordinationUnavailable`."""
    try:
        yield
    except FAILURES as error:
        raise unavailable(error) from error


async def ping(client: Redis) -> None:
    """Raises `CoordinationUnavailable` unless Redis answers now."""
    with translated():
        await client.ping()


async def stop_tasks(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancels background tasks and waits for them, without trusting a task to end on its
    first cancellation (a Redis client may turn one into a connection error; the loops also
    check their `closing` flag)."""
    pending = {t for t in tasks if not t.done()}
    for _ in range(10):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
    log.error("background tasks did not stop", extra={"count": len(pending)})
