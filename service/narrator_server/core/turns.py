"""Runs one streamed turn: provider events in, turn events out, the turn stored however it ends."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from contextlib import aclosing
from typing import TYPE_CHECKING

from .decisions import Choice, DecisionRules
from .errors import UpstreamError
from .models import (
    DecisionMade,
    DecisionSource,
    FinishReason,
    TextDelta,
    Turn,
    TurnCompleted,
    TurnStarted,
    TurnStatus,
    Usage,
)
from .ports import StreamFinished, StreamOpened, TextChunk
from .prompt import repair_message
from .rationale import RationaleExtractor

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .models import Decision, TurnEvent
    from .ports import ChatProvider, ChatRequest, SessionStore


class TurnRunner:
    """Streams a provider's answer as numbered deltas and stores the turn when it ends."""

    def __init__(self, provider: ChatProvider, store: SessionStore) -> None:
        self._provider = provider
        self._store = store
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
    ) -> AsyncGenerator[TurnEvent, None]:
        ctx = request.context
        shown: list[str] = []
        raw: list[str] = []
        extractor = RationaleExtractor() if rules else None
        seq, provider, model = 0, "", ""
        finish, usage = FinishReason.UNSPECIFIED, Usage()
        status, decision = TurnStatus.FAILED, None
        started_at = time.time()
        self._active += 1
        self._idle.clear()
        try:
            async with aclosing(self._provider.stream(request)) as events:
                async for event in events:
                    if isinstance(event, TextChunk):
                        text = event.text
                        if extractor is not None:
                            raw.append(text)
                            text = extractor.feed(text)
                        if text:
                            seq += 1
                            shown.append(text)
                            yield TextDelta(seq, text)
                    elif isinstance(event, StreamOpened):
                        provider, model = event.provider, event.model
                        yield TurnStarted(ctx.turn_id, provider, model)
                    elif isinstance(event, StreamFinished):
                        finish, usage = event.finish_reason, event.usage
            if rules is not None:
                decision, extra = await self._conclude(request, rules, "".join(raw))
                usage += extra
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
                text="".join(shown),
                status=status,
                provider=provider,
                model=model,
                usage=usage,
                created_at=started_at,
                decision=decision,
                finish_reason=finish,
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
        yield TurnCompleted(finish, usage, turn.text)

    async def _conclude(
        self, request: ChatRequest, rules: DecisionRules, raw: str
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
                    elif isinstance(event, StreamFinished):
                        usage = event.usage
        except UpstreamError:
            return rules.fallback(request.context.scene), usage
        second = rules.check("".join(parts))
        if isinstance(second, Choice):
            return rules.decision(second, DecisionSource.REPAIRED), usage
        return rules.fallback(request.context.scene), usage
