"""The output check: a turn's text reaches its caller only once the window that holds it was
checked at the session's rating.

The runner's events pass through `OutputCheck.events`. Text is cut into windows
(`windows.py`: sentences, bounded in size and in how long they wait) and each window is
released once its check allowed it, in order. A refused window ends the turn at the end of
the last window released, with `FinishReason.CONTENT_FILTER`: a narration's upstream request
is closed at once; a decision's answer is still read (not shown) so that the game gets its
decision, whose arguments are checked too (refused: the default option's fallback).

With an instant moderator (the local filter) windows are checked inline as they close: no
task, no extra hop. With one that waits on a service, the upstream is read by a pump task
while checks run (at most `in_flight` at once per turn; windows that close meanwhile are
checked together), so the stream never stalls per sentence.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections import deque
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from .models import DecisionMade, FinishReason, TurnCompleted
from .moderation import Direction, Verdict
from .windows import Windows

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from .models import ContentRating, Decision, TurnEvent
    from .moderation import ModerationConfig, Moderator
    from .turns import Progress

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Pending:
    windows: list[str]  # checked together (those that closed while other checks ran)
    task: asyncio.Future[Verdict]


class OutputCheck:
    """Checks one turn's output. Use once, through `events`."""

    def __init__(
        self,
        moderator: Moderator,
        rating: ContentRating,
        config: ModerationConfig,
        clock: Callable[[], float] = time.monotonic,
        turn: tuple[str, str] = ("", ""),
    ) -> None:
        self._turn = turn  # (session id, turn id), for the log
        self._moderator = moderator
        self._rating = rating
        self._config = config
        self._clock = clock
        self._windows = Windows(config.window_chars, config.hold_s)
        self._before = ""  # the tail of the text before the next window (its check's context)
        self.released: list[str] = []
        self.refusal: Verdict | None = None

    async def events(
        self,
        source: AsyncGenerator[TurnEvent | str],
        p: Progress,
        fallback: Callable[[], Awaitable[Decision]] | None = None,
    ) -> AsyncGenerator[TurnEvent | str]:
        """`source`'s events with its text held back until checked. `p` is the turn's
        progress (its finish reason, usage and decision are set here on a refusal);
        `fallback` gives a decision turn's fallback decision."""
        inner = self._inline if self._moderator.instant else self._pipelined
        async with aclosing(inner(source, p, fallback)) as events:
            async for event in events:
                yield event

    # --- shared --------------------------------------------------------------------------

    def _context(self, text: str) -> str:
        """The context of a check of `text` (then `text` becomes part of what comes before)."""
        before = self._before
        self._before = (before + text)[-self._config.context_chars :]
        return before

    async def _check(self, text: str, context: str) -> Verdict:
        if not text.strip():
            return Verdict()
        return await self._moderator.check(text, self._rating, Direction.OUTPUT, context)

    def _refused(self, verdict: Verdict, p: Progress) -> None:
        self.refusal = verdict
        p.finish = FinishReason.CONTENT_FILTER
        log.info(
            "moderation ended a turn's text at its last allowed window",
            extra={"session_id": self._turn[0], "turn_id": self._turn[1],
                   "category": verdict.category, "source": verdict.source,
                   "rating": self._rating.value, "released_chars": len(self.text)},
        )  # fmt: skip

    @property
    def text(self) -> str:
        return "".join(self.released)

    async def _decided(
        self, event: DecisionMade, p: Progress, fallback: Callable[[], Awaitable[Decision]] | None
    ) -> DecisionMade:
        """The decision, its arguments' text checked (refused: the fallback decision)."""
        said = " ".join(_strings(event.decision.arguments_json))
        verdict = await self._check(said, "") if said else Verdict()
        if not verdict.refused or fallback is None:
            return event
        if self.refusal is None:
            self._refused(verdict, p)
        p.decision = await fallback()
        return DecisionMade(p.decision)

    def _completed(self, event: TurnCompleted, p: Progress) -> TurnCompleted:
        if self.refusal is None:
            return event
        p.finish = FinishReason.CONTENT_FILTER  # what the rest of the answer said is moot
        return dataclasses.replace(
            event, finish_reason=FinishReason.CONTENT_FILTER, usage=p.usage, text=self.text
        )

    def _cut_short(self, p: Progress) -> TurnCompleted:
        """The end of a narration refused mid-way (its source was closed: its usage is in)."""
        p.finish = FinishReason.CONTENT_FILTER
        return TurnCompleted(FinishReason.CONTENT_FILTER, p.usage, self.text, tuple(p.recoveries))

    # --- instant moderators: inline ------------------------------------------------------

    async def _inline(
        self,
        source: AsyncGenerator[TurnEvent | str],
        p: Progress,
        fallback: Callable[[], Awaitable[Decision]] | None,
    ) -> AsyncGenerator[TurnEvent | str]:
        deciding = fallback is not None
        async with aclosing(source) as events:
            # While words are held, the next event is awaited in a task with the hold's
            # deadline (they go out when it passes); otherwise it is awaited directly.
            pending: asyncio.Future[TurnEvent | str] | None = None
            try:
                while True:
                    due = self._windows.due() if self.refusal is None else None
                    try:
                        if pending is None and due is None:
                            event = await anext(events)
                        else:
                            if pending is None:
                                pending = asyncio.ensure_future(anext(events))
                            if due is not None and not await _within(pending, due - self._clock()):
                                ready = await self._allowed(self._windows.expired(self._clock()), p)
                                if ready:
                                    yield ready
                                if self.refusal is not None and not deciding:
                                    break
                                continue
                            done, pending = pending, None
                            event = await done
                    except StopAsyncIteration:
                        break
                    if isinstance(event, str):
                        if self.refusal is None:
                            ready = await self._allowed(self._windows.feed(event, self._clock()), p)
                            if ready:
                                yield ready
                            if self.refusal is not None and not deciding:
                                break  # closing the source ends the upstream request
                        continue
                    if isinstance(event, DecisionMade | TurnCompleted) and self.refusal is None:
                        ready = await self._allowed([self._windows.rest()], p)
                        if ready:
                            yield ready
                    if isinstance(event, DecisionMade):
                        yield await self._decided(event, p, fallback)
                    elif isinstance(event, TurnCompleted):
                        yield self._completed(event, p)
                    else:
                        yield event
            finally:
                if pending is not None:
                    pending.cancel()
                    await asyncio.wait([pending])
        if self.refusal is not None and not deciding:
            yield self._cut_short(p)

    async def _allowed(self, windows: list[str], p: Progress) -> str:
        """The windows' text up to the first refused one (which ends the turn's text)."""
        ready = []
        for window in windows:
            verdict = await self._check(window, self._context(window))
            if verdict.refused:
                self._refused(verdict, p)
                break
            ready.append(window)
        text = "".join(ready)
        if text:
            self.released.append(text)
        return text

    # --- moderators that wait: a pump and checks in flight --------------------------------

    async def _pipelined(
        self,
        source: AsyncGenerator[TurnEvent | str],
        p: Progress,
        fallback: Callable[[], Awaitable[Decision]] | None,
    ) -> AsyncGenerator[TurnEvent | str]:
        deciding = fallback is not None
        wake: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        pump = asyncio.ensure_future(_pump(source, wake.put_nowait))
        checks: deque[_Pending] = deque()
        closed: list[str] = []  # windows closed but not sent to a check yet
        ending: list[TurnEvent] = []
        finished = False  # the source ended
        try:
            while True:
                kind, item = await self._woken(wake)
                if kind == "failed":
                    raise item
                finished = finished or kind == "end"
                if kind == "due":
                    closed += self._windows.expired(self._clock())
                elif kind == "event":
                    if isinstance(item, str):
                        if self.refusal is None:
                            closed += self._windows.feed(item, self._clock())
                    elif isinstance(item, DecisionMade | TurnCompleted):
                        if self.refusal is None and (rest := self._windows.rest()):
                            closed.append(rest)
                        ending.append(item)
                    else:
                        yield item  # TurnStarted: before any text
                closed = self._dispatch(checks, closed, wake)
                while checks and checks[0].task.done():
                    done = checks.popleft()
                    verdict = done.task.result()
                    if verdict.refused:
                        safe, verdict = await self._split(done.windows, verdict)
                        for window in safe:
                            self.released.append(window)
                            yield window
                        self._refused(verdict, p)
                        closed = _drop(checks)
                        break
                    text = "".join(done.windows)
                    self.released.append(text)
                    yield text
                    closed = self._dispatch(checks, closed, wake)
                if self.refusal is not None and not deciding:
                    await _stop(pump)  # the upstream request ends; its usage is counted
                    yield self._cut_short(p)
                    return
                if ending and not checks and not closed:
                    for event in ending:
                        if isinstance(event, DecisionMade):
                            yield await self._decided(event, p, fallback)
                        elif isinstance(event, TurnCompleted):
                            yield self._completed(event, p)
                            return
                    ending.clear()
                if finished and not checks and not closed:
                    return  # a source that ended without its completion (it never does)
        finally:
            _drop(checks)
            await _stop(pump)

    async def _woken(self, wake: asyncio.Queue[tuple[str, Any]]) -> tuple[str, Any]:
        """The next wake-up; ("due", None) when held words are due before one comes."""
        due = self._windows.due() if self.refusal is None else None
        if due is None or not wake.empty():
            return await wake.get()
        try:
            async with asyncio.timeout(max(0.0, due - self._clock())):
                return await wake.get()  # a cancelled get leaves its item in the queue
        except TimeoutError:
            return "due", None

    def _dispatch(
        self, checks: deque[_Pending], closed: list[str], wake: asyncio.Queue[tuple[str, Any]]
    ) -> list[str]:
        """Sends what closed to a check when one may start; returns what still waits."""
        if not closed or len(checks) >= self._config.in_flight:
            return closed
        text = "".join(closed)
        task = asyncio.ensure_future(self._check(text, self._context(text)))
        task.add_done_callback(lambda _: wake.put_nowait(("checked", None)))
        checks.append(_Pending(closed, task))
        return []

    async def _split(self, windows: list[str], verdict: Verdict) -> tuple[list[str], Verdict]:
        """Windows refused together: those before the first refused alone are safe (the
        turn still ends at its last safe sentence). When none is refused alone, the last
        one (with what came before it) is the refused one."""
        n = self._config.context_chars
        context, safe = self.text[-n:], list[str]()
        for window in windows[:-1]:
            alone = await self._check(window, context)
            if alone.refused:
                return safe, alone
            safe.append(window)
            context = (context + window)[-n:]
        return safe, verdict


async def _within(future: asyncio.Future[Any], seconds: float) -> bool:
    """Whether `future` is done within `seconds` (it is never cancelled here)."""
    if future.done():
        return True
    if seconds <= 0:
        return False
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    future.add_done_callback(wake)
    timer = loop.call_later(seconds, wake)
    try:
        await waiter
    finally:
        timer.cancel()
        future.remove_done_callback(wake)
    return future.done()


async def _pump(source: AsyncGenerator[TurnEvent | str], put: Callable[[Any], None]) -> None:
    """Reads the runner's events as they come (until cancelled)."""
    try:
        async with aclosing(source) as events:
            async for event in events:
                put(("event", event))
        put(("end", None))
    except Exception as error:
        put(("failed", error))


async def _stop(pump: asyncio.Future[None]) -> None:
    if not pump.done():
        pump.cancel()
    await asyncio.wait([pump])


def _drop(checks: deque[_Pending]) -> list[str]:
    for pending in checks:
        pending.task.cancel()
    checks.clear()
    return []


def _strings(arguments_json: str) -> list[str]:
    """The string values (and keys) of a decision's arguments, in order."""
    try:
        value = json.loads(arguments_json)
    except ValueError:
        return [arguments_json]
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack += [*item.values()]
        elif isinstance(item, list):
            stack += item
    return out
