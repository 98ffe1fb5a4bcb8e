"""The output check with a moderator that waits on a service: the upstream is read by a pump
task while window checks run (at most `in_flight` at once per turn; windows that close
meanwhile are checked together, never across a takeover), so the stream never stalls per
sentence. Text still goes out only once checked, in order (`output_check.py`)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from typing import TYPE_CHECKING

from .event_pump import EventPump
from .models import DecisionMade, TurnCompleted

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from .models import Decision, TurnEvent
    from .moderation import Verdict
    from .output_check import OutputCheck
    from .turns import Progress


@dataclasses.dataclass
class _Pending:
    windows: list[str]  # checked together
    task: asyncio.Future[Verdict]


async def pipelined(
    c: OutputCheck,
    source: AsyncGenerator[TurnEvent | str],
    p: Progress,
    fallback: Callable[[], Awaitable[Decision]] | None,
) -> AsyncGenerator[TurnEvent | str]:
    deciding = fallback is not None
    # Each event goes with the takeovers made before it (the pump runs ahead of the checks).
    pump = EventPump(source, lambda: len(p.recoveries), tap=c.tap)
    pump.start()
    checks: deque[_Pending] = deque()
    closed: list[str] = []  # windows closed but not sent to a check yet
    ending: list[TurnEvent] = []
    finished = False  # the source ended
    try:
        while True:
            due = c.windows.due() if c.refusal is None else None
            kind, item, takeovers = await pump.next(due, c.clock)
            if kind == "failed":  # what the source said is checked and sent, then its error
                if c.refusal is None and (rest := c.windows.rest()):
                    closed.append(rest)
                async for text in _drain(c, checks, closed, p):
                    yield text
                raise item
            finished = finished or kind == "end"
            if kind == "due":
                closed += c.windows.expired(c.clock())
            elif kind == "event":
                if isinstance(item, str):
                    if c.refusal is None:
                        if c.took_over(p, takeovers) and (rest := c.windows.rest()):
                            closed.append(rest)  # the boundary ends a window
                        closed += c.feed(item)
                elif isinstance(item, DecisionMade | TurnCompleted):
                    if c.refusal is None:
                        c.took_over(p, takeovers)  # a decision's repair: no text after it
                        if rest := c.windows.rest():
                            closed.append(rest)
                    ending.append(item)
                else:
                    yield item  # TurnStarted: before any text
            closed = _dispatch(c, checks, closed, pump)
            while checks and checks[0].task.done():
                done = checks.popleft()
                verdict = done.task.result()
                if verdict.refused:
                    safe, verdict = await _split(c, done.windows, verdict)
                    for window in safe:
                        yield c.release(window)
                        c.settle(p)
                    c.refuse(verdict, p)
                    closed = _drop(checks)
                    break
                yield c.release("".join(done.windows))
                c.settle(p)
                closed = _dispatch(c, checks, closed, pump)
            if c.refusal is not None and not deciding:
                await pump.close()  # the upstream request ends; its usage is counted
                yield c.cut_short(p)
                return
            if ending and not checks and not closed:
                for event in ending:
                    if isinstance(event, DecisionMade):
                        yield await c.decided(event, p, fallback)
                    elif isinstance(event, TurnCompleted):
                        yield c.completed(event, p)
                        return
                ending.clear()
            if finished and not checks and not closed:
                return  # a source that ended without its completion (it never does)
    finally:
        _drop(checks)
        await pump.close()


def _dispatch(
    c: OutputCheck, checks: deque[_Pending], closed: list[str], pump: EventPump
) -> list[str]:
    """Sends what closed (up to a takeover's boundary) to a check when one may start;
    returns what still waits."""
    if not closed or len(checks) >= c.config.in_flight:
        return closed
    take, boundary = len(closed), c.boundary()
    start = c.released_chars + sum(len(t) for w in checks for t in w.windows)
    if boundary is not None and start < boundary:  # this batch ends at the boundary
        end, take = start, 0
        while take < len(closed) and end + len(closed[take]) <= boundary:
            end += len(closed[take])
            take += 1
        take = take or 1
    batch, rest = closed[:take], closed[take:]
    text = "".join(batch)
    task = asyncio.ensure_future(c.check(text, c.context_of(text)))
    task.add_done_callback(lambda _: pump.post("checked"))
    checks.append(_Pending(batch, task))
    return rest


async def _split(c: OutputCheck, windows: list[str], verdict: Verdict) -> tuple[list[str], Verdict]:
    """Windows refused together: those before the first refused alone are safe (the turn
    still ends at its last safe sentence). When none is refused alone, the last one (with
    what came before it) is the refused one."""
    n = c.config.context_chars
    context, safe = c.text[-n:], list[str]()
    for window in windows[:-1]:
        alone = await c.check(window, context)
        if alone.refused:
            return safe, alone
        safe.append(window)
        context = (context + window)[-n:]
    return safe, verdict


async def _drain(
    c: OutputCheck, checks: deque[_Pending], closed: list[str], p: Progress
) -> AsyncGenerator[str]:
    """Every check in flight, then what closed, in order, until one is refused."""
    batches = [*checks]
    checks.clear()
    if closed:
        text = "".join(closed)
        batches.append(_Pending(closed, asyncio.ensure_future(c.check(text, c.context_of(text)))))
    for i, batch in enumerate(batches):
        verdict = await batch.task
        if c.refusal is not None or verdict.refused:
            for rest in batches[i:]:
                rest.task.cancel()
            return
        yield c.release("".join(batch.windows))
        c.settle(p)


def _drop(checks: deque[_Pending]) -> list[str]:
    for pending in checks:
        pending.task.cancel()
    checks.clear()
    return []
