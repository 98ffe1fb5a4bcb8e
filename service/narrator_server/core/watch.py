"""WatchSession: every turn of a session as it happens, from whichever server runs it.

A pump reads the turn log into a bounded queue; the watcher's stream reads the queue. A watcher
that falls more than `buffer` events behind is ended (Overloaded) instead of buffered without
bound. Turns are delivered one after the other, each from its first event.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import CoordinationUnavailable, NarratorError, Overloaded, TurnAborted
from .models import TextDelta, TurnEnded, TurnStarted, TurnStatus
from .turnlog import ProducerLost, SessionClosed

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from .models import TurnEvent
    from .turnlog import TurnInfo, TurnLog


@dataclass(frozen=True)
class WatchedEvent:
    """One event of a watched turn (`TurnEnded` when it ended without completing)."""

    info: TurnInfo
    event: TurnEvent | TurnEnded


class _Overflow(Exception):
    pass


_RETRIES_WHILE_LOST = 20  # x 0.25 s: time for another server to take a lost turn over


async def watch_session(
    turn_log: TurnLog, session_id: str, buffer: int
) -> AsyncGenerator[WatchedEvent]:
    queue: asyncio.Queue[WatchedEvent | None] = asyncio.Queue(maxsize=buffer + 1)
    overflow = False
    failure: Exception | None = None

    def emit(item: WatchedEvent) -> None:
        nonlocal overflow
        if queue.qsize() >= buffer:
            overflow = True
            raise _Overflow
        queue.put_nowait(item)

    async def pump() -> None:
        nonlocal failure
        try:
            async with aclosing(turn_log.watch(session_id)) as turns:  # type: ignore[type-var]
                async for info in turns:
                    if isinstance(info, SessionClosed):
                        break
                    await _follow_one(turn_log, info, emit)
        except _Overflow:
            pass
        except Exception as error:  # e.g. the shared log cannot be reached: the watcher is told
            failure = error
        queue.put_nowait(None)  # the room for it is reserved (maxsize is buffer + 1)

    task = asyncio.get_running_loop().create_task(pump(), name=f"watch-{session_id}")
    try:
        while (item := await queue.get()) is not None:
            yield item
        if failure is not None:
            raise failure
        if overflow:
            raise Overloaded(
                f"the watcher fell more than {buffer} events behind the session and was "
                "dropped; watch again to continue with the next turn"
            )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _follow_one(
    turn_log: TurnLog, info: TurnInfo, emit: Callable[[WatchedEvent], None]
) -> None:
    """One turn's events, from its start; a turn whose server died is waited for (another
    server may take it over) before it is reported interrupted."""
    started, seq = False, 0
    for _ in range(_RETRIES_WHILE_LOST):
        try:
            events = turn_log.follow(info.session_id, info.turn_id)
            async with aclosing(events) as stream:  # type: ignore[type-var]
                async for event in stream:
                    if isinstance(event, TurnStarted):
                        if started:
                            continue
                        started = True
                    elif isinstance(event, TextDelta):
                        if event.seq <= seq:
                            continue
                        seq = event.seq
                    emit(WatchedEvent(info, event))
            return
        except LookupError:
            return  # it ended and was gone before it could be followed
        except ProducerLost:
            await asyncio.sleep(0.25)
        except CoordinationUnavailable:
            raise  # the watch itself cannot go on; the turn did not end
        except TurnAborted as error:
            emit(WatchedEvent(info, TurnEnded(TurnStatus.CANCELLED, str(error))))
            return
        except NarratorError as error:
            emit(WatchedEvent(info, TurnEnded(TurnStatus.FAILED, str(error))))
            return
    emit(WatchedEvent(info, TurnEnded(TurnStatus.INTERRUPTED, "the server running it stopped")))
