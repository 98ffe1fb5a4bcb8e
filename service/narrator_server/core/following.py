"""Following a turn that runs elsewhere (in a task, on another server), resuming a stored one,
and taking over a turn whose server died: its continuation picks up from the last recorded seq.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING

from .errors import StoreUnavailable, TurnAborted
from .models import RecoveryReason, TextDelta, TurnStarted, TurnStatus
from .ports import Deadline
from .prompt import continuation_messages
from .replay import replay
from .turnlog import ProducerLost
from .turns import Progress

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from .models import Session, Turn, TurnEvent
    from .planning import Planner
    from .production import Production
    from .storage import SessionStore
    from .turnbook import TurnBook
    from .turnlog import TurnLog

log = logging.getLogger(__name__)


class AlreadyStored(TurnAborted):
    """To calls that joined a claim which found the turn already stored: read it there."""

    def __init__(self) -> None:
        super().__init__("the turn id was already used")


async def follow(
    events: AsyncIterator[TurnEvent], after_seq: int, *, resumed: bool
) -> AsyncGenerator[TurnEvent]:
    """A turn's events without the deltas up to `after_seq`; `resumed` marks TurnStarted."""
    async with aclosing(events):  # type: ignore[type-var]
        async for event in events:
            if isinstance(event, TextDelta):
                if event.seq <= after_seq:
                    continue
            elif isinstance(event, TurnStarted) and resumed:
                event = dataclasses.replace(event, resumed=True)
            yield event


class Followers:
    def __init__(
        self,
        store: SessionStore,
        turn_log: TurnLog,
        planner: Planner,
        book: TurnBook,
        production: Production,
    ) -> None:
        self._store = store
        self._log = turn_log
        self._planner = planner
        self._book = book
        self._production = production

    def resume(self, session: Session, turn: Turn, after_seq: int) -> AsyncGenerator[TurnEvent]:
        if turn.status.ended:
            return replay(turn, after_seq)
        return self.rejoin(session, turn.turn_id, after_seq)

    async def rejoin(
        self,
        session: Session,
        turn_id: str,
        after_seq: int,
        first: AsyncIterator[TurnEvent] | None = None,
    ) -> AsyncGenerator[TurnEvent]:
        """Follows a running turn (from `first` if given: a new turn's own buffer); takes it
        over when its producer is gone."""
        sid, started, resumed = session.session_id, False, first is None
        for _ in range(5):
            try:
                source = first or self._log.follow(sid, turn_id)
                first = None
                events = follow(source, after_seq, resumed=resumed)
                async with aclosing(events) as stream:
                    async for event in stream:
                        if isinstance(event, TurnStarted):
                            if started:
                                continue
                            started = True
                        elif isinstance(event, TextDelta):
                            after_seq = event.seq
                        yield event
                return
            except (LookupError, AlreadyStored):
                # Not (or no longer) produced anywhere: the store says how it ended.
                stored = await self.stored(sid, turn_id)
                if stored is not None and stored.status is TurnStatus.RUNNING:
                    stored = await self.interrupt(stored)
                if stored is None:
                    raise TurnAborted(
                        f"turn {turn_id!r} ended without being stored; start a new turn"
                    ) from None
                async for event in replay(stored, after_seq, started=started):
                    yield event
                return
            except ProducerLost:
                stored = await self.stored(sid, turn_id)
                if stored is not None and stored.status.ended:  # stored, but not its end
                    async for event in replay(stored, after_seq, started=started):
                        yield event
                    return
                if not await self._take_over(session, turn_id):
                    await asyncio.sleep(0.05)  # another server took it; follow that one
        raise TurnAborted(f"turn {turn_id!r} could not be followed; start a new turn")

    async def _take_over(self, session: Session, turn_id: str) -> bool:
        sid = session.session_id
        stored = await self.stored(sid, turn_id)
        if stored is None or stored.status.ended:
            return False
        writer = await self._log.take_over(sid, turn_id)
        if writer is None:
            return False
        buffer = writer.buffer
        first = next((e for e in buffer.events if isinstance(e, TurnStarted)), None)
        partial = buffer.text
        from .planning import TurnSpec

        try:
            spec = TurnSpec.of(stored)
            request, rules = await self._planner.plan(session, spec, turn_id, Deadline())
        except BaseException:
            buffer.end(TurnAborted("the turn could not be taken over"))
            await writer.finish()
            raise
        request = dataclasses.replace(
            request,
            messages=request.messages + continuation_messages(partial),
            continuation=partial,
        )
        p = Progress(
            text=list(buffer.deltas),
            provider=first.provider if first else "",
            model=first.model if first else "",
            pending=RecoveryReason.TAKEOVER,
            sent=buffer.seq,
        )
        log.warning(
            "taking over a turn whose server is gone",
            extra={"session_id": sid, "turn_id": turn_id, "after_seq": buffer.seq},
        )
        production = self._production.produce(writer, stored, request, rules, p, inline=False)
        self._book.spawn(writer, production)
        return True

    async def stored(self, session_id: str, turn_id: str) -> Turn | None:
        """The turn as this server knows it: kept unsaved here, else as stored."""
        unsaved = self._book.unsaved.get((session_id, turn_id))
        return unsaved or await self._store.get_turn(session_id, turn_id)

    async def interrupt(self, turn: Turn) -> Turn:
        """Marks a RUNNING turn that nobody produces as interrupted; returns the turn as it is
        stored now (the store never lets INTERRUPTED replace how a turn really ended)."""
        ended = dataclasses.replace(turn, status=TurnStatus.INTERRUPTED)
        try:
            await self._store.save_turn(ended)
            now = await self._store.get_turn(turn.session_id, turn.turn_id)
        except StoreUnavailable:
            return ended
        return now or ended
