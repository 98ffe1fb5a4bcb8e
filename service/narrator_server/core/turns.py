"""Runs one streamed turn: provider events in, turn events out, the turn stored however it ends.

A provider that fails after the turn started is replaced mid-stream: the next one continues
from the text already sent, and seq goes on. Decisions recover through one repair request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from contextlib import aclosing
from typing import TYPE_CHECKING

from .decisions import Choice, DecisionRules
from .errors import UpstreamError
from .models import (
    DecisionMade,
    DecisionSource,
    FinishReason,
    Recovery,
    TextDelta,
    Turn,
    TurnCompleted,
    TurnStarted,
    TurnStatus,
    Usage,
)
from .ports import StreamFinished, StreamOpened, TextChunk
from .prompt import continuation_messages, repair_message
from .rationale import RationaleExtractor

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .models import Decision, TurnEvent
    from .ports import ChatProvider, ChatRequest, SessionStore

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Progress:
    """What a turn has said and spent so far."""

    shown: list[str] = dataclasses.field(default_factory=list)
    raw: list[str] = dataclasses.field(default_factory=list)
    provider: str = ""
    model: str = ""
    finish: FinishReason = FinishReason.UNSPECIFIED
    usage: Usage = dataclasses.field(default_factory=Usage)
    recoveries: list[Recovery] = dataclasses.field(default_factory=list)

    @property
    def started(self) -> bool:
        return bool(self.provider)


class TurnRunner:
    """Streams a provider's answer as numbered deltas and stores the turn when it ends."""

    def __init__(
        self, provider: ChatProvider, store: SessionStore, max_recoveries: int = 2
    ) -> None:
        self._provider = provider
        self._store = store
        self._max_recoveries = max_recoveries
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Waits until no turn is running (each one stored); False if `timeout` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def run(
        self, request: ChatRequest, rules: DecisionRules | None = None
    ) -> AsyncGenerator[TurnEvent]:
        ctx = request.context
        p = _Progress()
        status, decision = TurnStatus.FAILED, None
        started_at = time.time()
        self._active += 1
        self._idle.clear()
        try:
            attempt, interrupted, takeovers = request, False, 0
            while True:
                try:
                    async with aclosing(self._stream(attempt, p, rules)) as events:
                        async for event in events:
                            yield event
                    break
                except UpstreamError as error:
                    if not p.started:
                        raise
                    if rules is not None:
                        interrupted = True
                        break  # a decision recovers through its repair request below
                    takeovers += 1
                    if takeovers > self._max_recoveries:
                        raise
                    log.warning(
                        "provider failed mid-stream; continuing the turn with the next one",
                        extra={"error_type": type(error).__name__, "after_seq": len(p.shown)},
                    )
                    partial = "".join(p.shown)
                    attempt = dataclasses.replace(
                        request,
                        messages=request.messages + continuation_messages(partial),
                        continuation=partial,
                        last_chance=takeovers == self._max_recoveries,
                    )
            if rules is not None:
                raw = "".join(p.raw)
                decision, extra = await self._conclude(request, rules, raw, p, interrupted)
                p.usage += extra
            status = TurnStatus.COMPLETED
        except (asyncio.CancelledError, GeneratorExit):
            status = TurnStatus.CANCELLED
            raise
        finally:
            turn = Turn(
                turn_id=ctx.turn_id,
                session_id=ctx.session.session_id,
                kind=ctx.kind,
                input=ctx.input,
                scene=ctx.scene,
                text="".join(p.shown),
                status=status,
                provider=p.provider,
                model=p.model,
                usage=p.usage,
                created_at=started_at,
                decision=decision,
                finish_reason=p.finish,
                recoveries=tuple(p.recoveries),
                delta_lengths=tuple(len(s) for s in p.shown),
            )
            try:
                # Shielded: a second cancellation must not lose the turn being written.
                await asyncio.shield(self._store.save_turn(turn))
            finally:
                self._active -= 1
                if not self._active:
                    self._idle.set()
        if decision is not None:
            yield DecisionMade(decision)
        yield TurnCompleted(p.finish, p.usage, turn.text, turn.recoveries)

    async def _stream(
        self, request: ChatRequest, p: _Progress, rules: DecisionRules | None
    ) -> AsyncGenerator[TurnEvent]:
        """One provider stream; a second one (a recovery) continues the same seq."""
        extractor = RationaleExtractor() if rules else None
        shown = p.shown
        async with aclosing(self._provider.stream(request)) as events:
            async for event in events:
                if isinstance(event, TextChunk):
                    text = event.text
                    if extractor is not None:
                        p.raw.append(text)
                        text = extractor.feed(text)
                    if text:
                        shown.append(text)
                        yield TextDelta(len(shown), text)
                elif isinstance(event, StreamOpened):
                    if p.started:
                        p.recoveries.append(Recovery(event.provider, event.model, len(shown)))
                    else:
                        p.provider, p.model = event.provider, event.model
                        yield TurnStarted(request.context.turn_id, p.provider, p.model)
                elif isinstance(event, StreamFinished):
                    p.finish = event.finish_reason
                    p.usage += event.usage

    async def _conclude(
        self,
        request: ChatRequest,
        rules: DecisionRules,
        raw: str,
        p: _Progress,
        interrupted: bool,
    ) -> tuple[Decision, Usage]:
        """The decision in the answer; else one repair request; else the fallback option."""
        first = rules.check(raw)
        if isinstance(first, Choice):
            return rules.decision(first, DecisionSource.MODEL), Usage()
        repair = dataclasses.replace(
            request, messages=request.messages + repair_message(raw, first)
        )
        parts: list[str] = []
        usage = Usage()
        try:
            async with aclosing(self._provider.stream(repair)) as events:
                async for event in events:
                    if isinstance(event, TextChunk):
                        parts.append(event.text)
                    elif isinstance(event, StreamOpened) and interrupted:
                        p.recoveries.append(Recovery(event.provider, event.model, len(p.shown)))
                    elif isinstance(event, StreamFinished):
                        usage = event.usage
                        if interrupted:
                            p.finish = event.finish_reason
        except UpstreamError:
            return rules.fallback(request.context.scene), usage
        second = rules.check("".join(parts))
        if isinstance(second, Choice):
            return rules.decision(second, DecisionSource.REPAIRED), usage
        return rules.fallback(request.context.scene), usage
