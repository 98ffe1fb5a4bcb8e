"""Turns from start to storage: claims, production, followers, resumes, takeovers, shutdown.

A new turn claims its slot and lease in the turn log, then its row in the store (RUNNING), then
runs. Without a client turn id it runs inline in the caller's stream (cancelling the call
cancels it); with one it runs in its own task and callers follow it, so a lost connection can
rejoin it. However a turn ends it is stored once (`production.py`); a follower that finds the
producer gone (its server died) takes the turn over (`following.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from contextlib import aclosing
from typing import TYPE_CHECKING

from .errors import FieldViolation, InvalidArgument, NarratorError, StoreUnavailable, TurnAborted
from .following import AlreadyStored, Followers
from .models import LOCAL, TurnKind, TurnStatus
from .moderation import check_input
from .production import Production
from .quotas import NOTHING_RESERVED, reserve_turn
from .turnbook import TurnBook
from .turnlog import TurnClaimed, TurnInfo
from .turns import Progress

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .decisions import DecisionRules
    from .memory_models import Recollection
    from .models import Caller, Session, Turn, TurnEvent
    from .moderation import Moderator
    from .planning import Planner, TurnSpec
    from .ports import ChatRequest, Deadline
    from .quotas import Quotas
    from .storage import SessionStore
    from .turnlog import TurnLog
    from .turns import TurnRunner

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    max_running: int = 256
    resume_window: float = 10.0
    drain_timeout: float = 5.0


class TurnEngine:
    def __init__(
        self,
        runner: TurnRunner,
        store: SessionStore,
        turn_log: TurnLog,
        planner: Planner,
        config: EngineConfig | None = None,
        quotas: Quotas | None = None,
        moderator: Moderator | None = None,
    ) -> None:
        self._moderator = moderator
        self._quotas = quotas
        self._store = store
        self._log = turn_log
        self._planner = planner
        self._config = c = config or EngineConfig()
        self.book = TurnBook(c.resume_window)
        self._production = Production(runner, store, planner, self.book)
        self._followers = Followers(store, turn_log, planner, self.book, self._production)

    @property
    def producing(self) -> int:
        return self.book.producing

    @property
    def unsaved(self) -> dict[tuple[str, str], Turn]:
        return self.book.unsaved

    async def open(
        self,
        session: Session,
        spec: TurnSpec,
        *,
        turn_id: str,
        after_seq: int,
        deadline: Deadline,
        caller: Caller = LOCAL,
        found: Recollection | None = None,
    ) -> AsyncGenerator[TurnEvent]:
        """The events of the turn: a new one, or the one `turn_id` names (joined, replayed or
        taken over). The session's ownership was checked by the caller. Nothing is claimed
        before the first event is asked for. A new turn holds the caller's token quotas while
        it runs (`QuotaExceeded` before anything is claimed in the store). `found`: the
        memory's read of the session that checked its owner, handed to the planner."""
        source = await self._source(session, spec, turn_id, after_seq, deadline, caller, found)
        async with aclosing(source) as events:
            async for event in events:
                yield event

    async def _source(
        self,
        session: Session,
        spec: TurnSpec,
        turn_id: str,
        after_seq: int,
        deadline: Deadline,
        caller: Caller,
        found: Recollection | None,
    ) -> AsyncGenerator[TurnEvent]:
        sid = session.session_id
        if turn_id:
            stored = await self._followers.stored(sid, turn_id)
            if stored is not None:
                _check_kind(stored, spec)
                return self._followers.resume(session, stored, after_seq)
        tid = turn_id or uuid.uuid4().hex
        try:
            writer = await self._log.start(
                TurnInfo(sid, tid, spec.kind, spec.input, resumable=bool(turn_id)),
                self._config.max_running,
            )
        except TurnClaimed:  # a concurrent call with the same new turn id won the claim
            return self._followers.rejoin(session, tid, after_seq)
        reservation = NOTHING_RESERVED
        claiming: asyncio.Future[Turn | None] | None = None
        try:
            request, rules = await self._planned(session, spec, tid, deadline, found)
            reservation = await reserve_turn(self._quotas, caller, request)
            claim = spec.running_turn(tid, time.time())
            if turn_id:
                existing = await self._store.claim_turn(claim)
            else:
                # A server-chosen id is new, so nothing can be resumed: its claim is written
                # while the upstream request opens, off the first token's path. Production
                # awaits it before the first event and before storing the turn.
                existing, claiming = None, asyncio.ensure_future(self._store.claim_turn(claim))
        except BaseException as error:
            await reservation.release()
            # Calls that joined this claim get the same answer as its caller.
            shared = error if isinstance(error, NarratorError) else None
            writer.buffer.end(shared or TurnAborted("the turn could not start"))
            await writer.finish()
            raise
        if existing is not None:  # the id was used before and ended meanwhile
            await reservation.release()
            writer.buffer.end(AlreadyStored())
            await writer.finish()
            _check_kind(existing, spec)
            return self._followers.resume(session, existing, after_seq)
        production = self._production.produce(
            writer, claim, request, rules, Progress(), inline=not turn_id,
            reservation=reservation, claiming=claiming,
        )  # fmt: skip
        if not turn_id:
            return production
        self.book.spawn(writer, production)
        # New: from seq 1; should this server lose the turn, its followers go where it went.
        return self._followers.rejoin(session, tid, 0, first=writer.buffer.follow())

    async def _planned(
        self,
        session: Session,
        spec: TurnSpec,
        turn_id: str,
        deadline: Deadline,
        found: Recollection | None,
    ) -> tuple[ChatRequest, DecisionRules | None]:
        """The turn's request, once its input passed the moderation of the session's rating
        (`ContentRejected` otherwise: nothing was asked upstream). A check that waits on a
        service runs while the request is planned."""
        if self._moderator is None:
            return await self._planner.plan(session, spec, turn_id, deadline, found)
        field = "action" if spec.kind is TurnKind.NARRATION else "question"
        checking = check_input(self._moderator, session.content_rating, ((field, spec.input),))
        if self._moderator.instant:
            await checking
            return await self._planner.plan(session, spec, turn_id, deadline, found)
        check = asyncio.ensure_future(checking)
        try:
            planned = await self._planner.plan(session, spec, turn_id, deadline, found)
        except BaseException:
            check.cancel()
            await asyncio.wait([check])
            if not check.cancelled():
                check.exception()  # the planner's error is the one reported
            raise
        await check
        return planned

    # --- maintenance ----------------------------------------------------------------------

    async def sweep(self, started_before: float) -> int:
        """Marks RUNNING turns that no server produces any more as interrupted."""
        count = 0
        for turn in await self._store.running_turns(started_before):
            key = (turn.session_id, turn.turn_id)
            if key in self.book.tasks or key in self.unsaved or await self._log.alive(*key):
                continue
            if (await self._followers.interrupt(turn)).status is TurnStatus.INTERRUPTED:
                count += 1
        return count

    async def retry_unsaved(self) -> bool:
        """Stores the turns a failing store could not take; True when none is left."""
        for key, turn in list(self.unsaved.items()):
            await self._production.store_turn(turn)
            self.unsaved.pop(key, None)
        return not self.unsaved

    async def drain(self, timeout: float | None = None) -> bool:
        """Cancels the turns still running (once each) and waits, within `timeout`, until
        each one is stored. False when some were not."""
        self.book.stop_all()
        timeout = self._config.drain_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                await self.book.idle()
                with contextlib.suppress(StoreUnavailable):
                    await self.retry_unsaved()  # one last chance for what a failing store kept
        except TimeoutError:
            return False
        return not self.unsaved


def _check_kind(turn: Turn, spec: TurnSpec) -> None:
    if turn.kind is not spec.kind:
        raise InvalidArgument([FieldViolation("turn_id", f"names a {turn.kind.value} turn")])
