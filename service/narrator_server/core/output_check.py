"""The output check: a turn's text reaches its caller only once the window that holds it was
checked at the session's rating.

The runner's events pass through `OutputCheck.events`. Text is cut into windows
(`windows.py`: sentences, bounded in size and in how long they wait) and each window is
released once its check allowed it, in order. A refused window ends the turn at the end of
the last window released, with `FinishReason.CONTENT_FILTER`: a narration's upstream request
is closed at once; a decision's answer is still read (not shown) so that the game gets its
decision, whose arguments are checked too (refused: the default option's fallback).

With an instant moderator (the local filter) windows are checked inline as they close; with
one that waits on a service, `output_pipeline.py` reads the upstream while checks run. Inline,
text pushed up the tap (`tap.py`) that leaves words held lets the provider rest until they are
due (`rests.py`): the upstream is read once more just before, not once a token.

Two edges keep the turn's record true: at a mid-stream takeover the text held so far is
checked and released first, so a `Recovery.after_seq` still names the last delta of the
provider that failed; when the source fails for good, the text held is checked and released
before the error goes on (the failed turn keeps all it said that is allowed).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from contextlib import aclosing
from typing import TYPE_CHECKING

from .event_pump import EventPump, Woken
from .models import DecisionMade, FinishReason, TurnCompleted
from .moderation import Direction, Verdict
from .rests import Rests
from .windows import Windows

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from .models import ContentRating, Decision, TurnEvent
    from .moderation import ModerationConfig, Moderator
    from .tap import Tap
    from .turns import Progress

log = logging.getLogger(__name__)


class OutputCheck:
    """Checks one turn's output. Use once, through `events`."""

    def __init__(
        self,
        moderator: Moderator,
        rating: ContentRating,
        config: ModerationConfig,
        clock: Callable[[], float] = time.monotonic,
        turn: tuple[str, str] = ("", ""),
        tap: Tap | None = None,
    ) -> None:
        self._turn = turn  # (session id, turn id), for the log
        self.tap = tap  # the source's text, pushed to the pump once it reads (`tap.py`)
        self._moderator = moderator
        self._rating = rating
        self.config = config
        self.clock = clock
        self.windows = Windows(config.window_chars, config.hold_s, tick_s=config.tick_s)
        self._before = ""  # the tail of the text before the next window (its check's context)
        self.released: list[str] = []
        self.released_chars = 0
        self.fed = 0  # characters fed to the windows
        self.refusal: Verdict | None = None
        self._recoveries = 0  # takeovers seen
        self._marks: list[tuple[int, int]] = []  # (recovery index, text fed before it)
        self.rests = Rests(tap, self.windows, config.window_chars)

    async def events(
        self,
        source: AsyncGenerator[TurnEvent | str],
        p: Progress,
        fallback: Callable[[], Awaitable[Decision]] | None = None,
    ) -> AsyncGenerator[TurnEvent | str]:
        """`source`'s events with its text held back until checked. `p` is the turn's
        progress (its finish reason, usage and decision are set here on a refusal);
        `fallback` gives a decision turn's fallback decision."""
        if self._moderator.instant:
            inner = self._inline(source, p, fallback)
        else:
            from .output_pipeline import pipelined

            inner = pipelined(self, source, p, fallback)
        async with aclosing(inner) as events:
            async for event in events:
                yield event

    # --- shared (the pipeline uses these too) ---------------------------------------------

    def feed(self, text: str, now: float | None = None) -> list[str]:
        now = self.clock() if now is None else now
        self.fed += len(text)
        return self.windows.feed(text, now, self.rests.arrived(now, len(text)))

    def expired(self) -> list[str]:
        """The held words due by now, as a window (then the provider may rest, `rests.py`)."""
        now = self.clock()
        closed = self.windows.expired(now)
        if closed:
            self.rests.went_out(now)
        return closed

    def context_of(self, text: str) -> str:
        """The context of a check of `text` (then `text` becomes part of what comes before)."""
        before = self._before
        self._before = (before + text)[-self.config.context_chars :]
        return before

    async def check(self, text: str, context: str) -> Verdict:
        if not text.strip():
            return Verdict()
        return await self._moderator.check(text, self._rating, Direction.OUTPUT, context)

    def release(self, text: str) -> str:
        self.released.append(text)
        self.released_chars += len(text)
        return text

    def took_over(self, p: Progress, n: int | None = None) -> bool:
        """Whether a takeover began since the last text (each is marked at the text fed so
        far: its `after_seq` is set once that text was released). `n`: the takeovers when
        the event at hand was made (default: now)."""
        n = len(p.recoveries) if n is None else n
        if n == self._recoveries:
            return False
        self._marks += [(i, self.fed) for i in range(self._recoveries, n)]
        self._recoveries = n
        self.settle(p)
        return True

    def settle(self, p: Progress) -> None:
        """After a release reached the caller: takeovers whose text before them is all out
        now get the last seq sent as their `after_seq`."""
        while self._marks and self.released_chars >= self._marks[0][1]:
            i, _ = self._marks.pop(0)
            p.recoveries[i] = dataclasses.replace(p.recoveries[i], after_seq=p.sent)

    def boundary(self) -> int | None:
        """Where the next takeover's text begins (windows are never checked across it)."""
        return self._marks[0][1] if self._marks else None

    def refuse(self, verdict: Verdict, p: Progress) -> None:
        self.refusal = verdict
        p.finish = FinishReason.CONTENT_FILTER
        self._marks.clear()  # the text after a refusal is never released
        log.info(
            "moderation ended a turn's text at its last allowed window",
            extra={"session_id": self._turn[0], "turn_id": self._turn[1],
                   "category": verdict.category, "source": verdict.source,
                   "rating": self._rating.value, "released_chars": self.released_chars},
        )  # fmt: skip

    @property
    def text(self) -> str:
        return "".join(self.released)

    async def decided(
        self, event: DecisionMade, p: Progress, fallback: Callable[[], Awaitable[Decision]] | None
    ) -> DecisionMade:
        """The decision, its arguments' text checked (refused: the fallback decision)."""
        said = " ".join(_strings(event.decision.arguments_json))
        verdict = await self.check(said, "") if said else Verdict()
        if not verdict.refused or fallback is None:
            return event
        if self.refusal is None:
            self.refuse(verdict, p)
        p.decision = await fallback()
        return DecisionMade(p.decision)

    def completed(self, event: TurnCompleted, p: Progress) -> TurnCompleted:
        recoveries = tuple(p.recoveries)  # with the after_seq set here
        if self.refusal is None:
            return dataclasses.replace(event, recoveries=recoveries)
        p.finish = FinishReason.CONTENT_FILTER  # what the rest of the answer said is moot
        return dataclasses.replace(
            event,
            finish_reason=FinishReason.CONTENT_FILTER,
            usage=p.usage,
            text=self.text,
            recoveries=recoveries,
        )

    def cut_short(self, p: Progress) -> TurnCompleted:
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
            # Once words are held, a pump task reads the events, so that the next one can be
            # awaited with the hold's deadline (they go out when it passes); until then, and
            # with nothing held, each is awaited directly.
            pump: EventPump | None = None
            try:
                while True:
                    due = self.windows.due() if self.refusal is None else None
                    takeovers: int | None = None  # made before the event (None: now)
                    if pump is None and due is None:
                        try:
                            event = await anext(events)
                        except StopAsyncIteration:
                            break
                        except Exception:  # what the failed source said is checked and sent
                            if self.refusal is None and (ready := await self._allowed([], p, True)):
                                yield ready
                            raise
                    else:
                        if pump is None:
                            pump = EventPump(
                                events, lambda: len(p.recoveries), sift=self._sift, tap=self.tap
                            )
                            pump.start()
                        kind, event, takeovers = await pump.next(due, self.clock)
                        if kind == "due" or kind == "windows":
                            closed = event if kind == "windows" else self.expired()
                            ready = await self._allowed(closed, p)
                            if ready:
                                yield ready
                                self.settle(p)
                            if self.refusal is not None and not deciding:
                                break
                            continue
                        if kind == "end":
                            break
                        if kind == "failed":
                            if self.refusal is None and (ready := await self._allowed([], p, True)):
                                yield ready
                            raise event
                    if isinstance(event, str):
                        if self.refusal is None:
                            if self.took_over(p, takeovers) and (
                                ready := await self._allowed([], p, True)
                            ):
                                yield ready
                                self.settle(p)
                            if self.refusal is None:
                                ready = await self._allowed(self.feed(event), p)
                                if ready:
                                    yield ready
                                    self.settle(p)
                            if self.refusal is not None and not deciding:
                                break  # closing the source ends the upstream request
                        continue
                    if isinstance(event, DecisionMade | TurnCompleted) and self.refusal is None:
                        self.took_over(p, takeovers)  # a decision's repair: no text after it
                        ready = await self._allowed([], p, True)
                        if ready:
                            yield ready
                            self.settle(p)
                    if isinstance(event, DecisionMade):
                        yield await self.decided(event, p, fallback)
                    elif isinstance(event, TurnCompleted):
                        yield self.completed(event, p)
                    else:
                        yield event
            finally:
                if pump is not None:
                    await pump.close()
        if self.refusal is not None and not deciding:
            yield self.cut_short(p)

    def _sift(self, event: TurnEvent | str, takeovers: int) -> Woken | None:
        """In the pump, while `_inline` waits with every event before this one handled: text
        with no takeover before it is fed at once. `_inline` is woken only for the windows it
        closed, or (by the pump's timer) once words newly held are due."""
        if not isinstance(event, str) or self.refusal is not None or takeovers != self._recoveries:
            return ("event", event, takeovers)
        held = self.windows.due() is not None
        now = self.clock()
        closed = self.feed(event, now)
        if closed:
            return ("windows", closed, takeovers)
        self.rests.held(now)  # nothing for `_inline` to do before they are due
        # Words were held already: their deadline stands (should a long word have moved it
        # later, the wait ends early, finds nothing due and waits again). Words newly held:
        # the pump wakes `_inline` once they are due.
        if held or (due := self.windows.due()) is None:
            return None
        return ("hold", due, 0)

    async def _allowed(self, windows: list[str], p: Progress, rest: bool = False) -> str:
        """The windows' text (with `rest`, then all text held) up to the first refused
        window (which ends the turn's text)."""
        if rest and (held := self.windows.rest()):
            windows = [*windows, held]
        ready = []
        for window in windows:
            verdict = await self.check(window, self.context_of(window))
            if verdict.refused:
                self.refuse(verdict, p)
                break
            ready.append(window)
        return self.release("".join(ready)) if ready else ""


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
