"""Runs one turn against the provider: its text as it arrives, then its decision and its end.

A provider that fails after the turn started is replaced mid-stream: the next one continues
from the text already sent. Decisions recover through one repair request. The runner stores
nothing: the engine records what it yields and stores the turn however it ends.
"""

from __future__ import annotations

import dataclasses
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING

from .continuation import Seam
from .decisions import Choice, DecisionRules
from .errors import UpstreamError
from .models import (
    DecisionMade,
    DecisionSource,
    FinishReason,
    Recovery,
    RecoveryReason,
    TurnCompleted,
    TurnStarted,
    Usage,
)
from .output_check import OutputCheck
from .ports import StreamFinished, StreamOpened, TextChunk
from .prompt import continuation_messages, estimated_usage, repair_message
from .rationale import RationaleExtractor
from .schema_tasks import MAX_ANSWER_CHARS
from .schema_work import SchemaWork
from .stream_text import StreamText
from .tap import Tap

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .models import Decision, TurnEvent
    from .moderation import ModerationConfig, Moderator
    from .ports import ChatProvider, ChatRequest

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Progress:
    """What a turn has said and spent so far (a takeover starts from a recorded one)."""

    text: list[str] = dataclasses.field(default_factory=list)
    raw: list[str] = dataclasses.field(default_factory=list)
    provider: str = ""
    model: str = ""
    finish: FinishReason = FinishReason.UNSPECIFIED
    usage: Usage = dataclasses.field(default_factory=Usage)
    recoveries: list[Recovery] = dataclasses.field(default_factory=list)
    decision: Decision | None = None
    # The next provider to open continues the turn, for this reason.
    pending: RecoveryReason | None = None
    sent: int = 0  # deltas sent so far (the engine keeps it current)

    @property
    def started(self) -> bool:
        return bool(self.provider)


def _reason(error: BaseException) -> RecoveryReason:
    return RecoveryReason.STALLED if "stalled" in str(error) else RecoveryReason.UPSTREAM_FAILED


class TurnRunner:
    """Yields `TurnStarted`, the text (as `str` pieces), `DecisionMade`, `TurnCompleted`.

    A turn's text stops at `max_text_chars` (the stream is cut, the turn finishes LENGTH), and
    a decision's raw answer at `MAX_ANSWER_CHARS`: no turn is ever larger than that. With a
    `moderator`, text is yielded only once checked at the session's rating (`OutputCheck`).
    """

    def __init__(
        self,
        provider: ChatProvider,
        max_recoveries: int = 2,
        schemas: SchemaWork | None = None,
        max_text_chars: int = 131_072,
        moderator: Moderator | None = None,
        moderation: ModerationConfig | None = None,
    ) -> None:
        self._moderator = moderator
        self._moderation = moderation
        self._provider = provider
        self._max_recoveries = max_recoveries
        self._schemas = schemas or SchemaWork()
        self._max_text = max_text_chars

    def run(
        self, request: ChatRequest, rules: DecisionRules | None, p: Progress
    ) -> AsyncGenerator[TurnEvent | str]:
        bound = rules.bind(self._schemas) if rules is not None else None
        if self._moderator is None or self._moderation is None:
            return self._run(request, bound, p, None)
        ctx = request.context
        tap = Tap()  # the output check's pump takes pushed text (`tap.py`)
        events = self._run(request, bound, p, tap)
        check = OutputCheck(
            self._moderator,
            ctx.session.content_rating,
            self._moderation,
            turn=(ctx.session.session_id, ctx.turn_id),
            tap=tap,
        )
        if bound is None:
            return check.events(events, p)
        return check.events(events, p, lambda: bound.fallback(ctx.scene))

    async def _run(
        self, request: ChatRequest, rules: DecisionRules | None, p: Progress, tap: Tap | None
    ) -> AsyncGenerator[TurnEvent | str]:
        attempt, takeovers = request, 0
        # A decision taken over from another server concludes by its repair request.
        interrupted = p.started and rules is not None
        while not interrupted:
            try:
                async with aclosing(self._stream(attempt, p, rules, tap)) as events:
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
                    extra={"error_type": type(error).__name__, "after_seq": p.sent},
                )
                partial = "".join(p.text)
                last = takeovers == self._max_recoveries
                p.pending = RecoveryReason.LAST_CHANCE if last else _reason(error)
                attempt = dataclasses.replace(
                    request,
                    messages=request.messages + continuation_messages(partial),
                    continuation=partial,
                    last_chance=last,
                )
        if rules is not None:
            raw = "".join(p.raw)
            p.decision, extra = await self._conclude(request, rules, raw, p, interrupted)
            p.usage += extra
            yield DecisionMade(p.decision)
        yield TurnCompleted(p.finish, p.usage, "".join(p.text), tuple(p.recoveries))

    async def _stream(
        self, request: ChatRequest, p: Progress, rules: DecisionRules | None, tap: Tap | None
    ) -> AsyncGenerator[TurnEvent | str]:
        """One provider stream; a second one (a recovery) continues the same text, joined
        without repeating what was sent (`Seam`)."""
        extractor = RationaleExtractor() if rules else None
        seam = Seam(request.continuation) if request.continuation and not rules else None
        said = StreamText(p, self._max_text, extractor, seam, tap)
        opened, finished = False, False
        if said.pushable():
            request = dataclasses.replace(request, tap=Tap(said.push, above=tap))
        try:
            async with aclosing(self._provider.stream(request)) as events:
                async for event in events:
                    if isinstance(event, TextChunk):
                        text = said.take(event.text)
                        if text:
                            yield text
                        if said.cut:
                            p.finish = FinishReason.LENGTH
                            log.warning("the turn reached its size limit; its text is cut there")
                            return  # closing the provider's stream ends the upstream request
                    elif isinstance(event, StreamOpened):
                        opened, fresh = True, not p.started
                        self._opened(p, event)
                        if fresh:
                            yield TurnStarted(request.context.turn_id, p.provider, p.model)
                    elif isinstance(event, StreamFinished):
                        finished = True
                        p.finish = event.finish_reason
                        p.usage += event.usage
                        if tail := said.flush():
                            yield tail
        finally:
            if opened and not finished:
                # Broken, cut or cancelled: what it used is the server's estimate, never nothing.
                p.usage += estimated_usage(request.messages, -(-said.said // 4))

    @staticmethod
    def _opened(p: Progress, event: StreamOpened) -> None:
        if p.started:
            reason = p.pending or RecoveryReason.UPSTREAM_FAILED
            p.recoveries.append(Recovery(event.provider, event.model, p.sent, reason))
            p.pending = None
        else:
            p.provider, p.model = event.provider, event.model

    async def _conclude(
        self,
        request: ChatRequest,
        rules: DecisionRules,
        raw: str,
        p: Progress,
        interrupted: bool,
    ) -> tuple[Decision, Usage]:
        """The decision in the answer; else one repair request; else the fallback option."""
        first = await rules.check(raw)
        if isinstance(first, Choice):
            return rules.decision(first, DecisionSource.MODEL), Usage()
        repair = dataclasses.replace(
            request, messages=request.messages + repair_message(raw, first)
        )
        parts: list[str] = []
        room = MAX_ANSWER_CHARS
        usage = Usage()
        try:
            async with aclosing(self._provider.stream(repair)) as events:
                async for event in events:
                    if isinstance(event, TextChunk):
                        parts.append(event.text[: max(room, 0)])
                        room -= len(event.text)
                        if room < 0:
                            break
                    elif isinstance(event, StreamOpened) and interrupted:
                        p.pending = p.pending or RecoveryReason.UPSTREAM_FAILED
                        self._opened(p, event)
                    elif isinstance(event, StreamFinished):
                        usage = event.usage
                        if interrupted:
                            p.finish = event.finish_reason
        except UpstreamError:
            return await rules.fallback(request.context.scene), usage
        second = await rules.check("".join(parts))
        if isinstance(second, Choice):
            return rules.decision(second, DecisionSource.REPAIRED), usage
        return await rules.fallback(request.context.scene), usage
