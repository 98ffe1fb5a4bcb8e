"""Turns from start to storage: claims, production, followers, resumes, takeovers, shutdown.

A new turn claims its slot and lease in the turn log, then its row in the store (RUNNING), then
runs. Without a client turn id it runs inline in the caller's stream (cancelling the call
cancels it); with one it runs in its own task and callers follow it, so a lost connection can
rejoin it. However a turn ends it is stored once, shielded from a second cancellation; a store
that cannot write keeps the turn in memory and retries. A follower that finds the producer gone
(its server died) takes the turn over and continues it from the last recorded seq.
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

from .errors import (
    FieldViolation,
    InvalidArgument,
    NarratorError,
    StoreUnavailable,
    TurnAborted,
)
from .models import (
    LOCAL,
    DecisionMade,
    RecoveryReason,
    TextDelta,
    Turn,
    TurnCompleted,
    TurnStarted,
    TurnStatus,
)
from .ports import Deadline
from .prompt import continuation_messages
from .quotas import NOTHING_RESERVED, reserve_turn
from .replay import replay
from .turnlog import ProducerLost, TurnClaimed, TurnInfo
from .turns import Progress

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from .models import Caller, Session, TurnEvent
    from .planning import Planner, TurnSpec
    from .quotas import Quotas, Reservation
    from .storage import SessionStore
    from .turnlog import TurnLog, TurnWriter
    from .turns import TurnRunner

log = logging.getLogger(__name__)
Key = tuple[str, str]


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
    ) -> None:
        self._runner = runner
        self._quotas = quotas
        self._store = store
        self._log = turn_log
        self._planner = planner
        self._config = config or EngineConfig()
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._stopping: set[Key] = set()  # tasks cancelled once already
        self._reapers: dict[Key, asyncio.Task[None]] = {}
        self._producing = 0  # turns from their first step until they are stored (or kept)
        self._idle = asyncio.Event()
        self._idle.set()
        self.unsaved: dict[Key, Turn] = {}

    @property
    def producing(self) -> int:
        return self._producing

    async def open(
        self,
        session: Session,
        spec: TurnSpec,
        *,
        turn_id: str,
        after_seq: int,
        deadline: Deadline,
        caller: Caller = LOCAL,
    ) -> AsyncGenerator[TurnEvent]:
        """The events of the turn: a new one, or the one `turn_id` names (joined, replayed or
        taken over). The session's ownership was checked by the caller. Nothing is claimed
        before the first event is asked for. A new turn holds the caller's token quotas while
        it runs (`QuotaExceeded` before anything is claimed in the store)."""
        source = await self._source(session, spec, turn_id, after_seq, deadline, caller)
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
    ) -> AsyncGenerator[TurnEvent]:
        sid = session.session_id
        if turn_id:
            stored = await self._stored(sid, turn_id)
            if stored is not None:
                _check_kind(stored, spec)
                return self._resume(session, stored, after_seq)
        tid = turn_id or uuid.uuid4().hex
        try:
            writer = await self._log.start(
                TurnInfo(sid, tid, spec.kind, spec.input, resumable=bool(turn_id)),
                self._config.max_running,
            )
        except TurnClaimed:  # a concurrent call with the same new turn id won the claim
            return self._rejoin(session, tid, after_seq)
        reservation = NOTHING_RESERVED
        try:
            request, rules = await self._planner.plan(session, spec, tid, deadline)
            reservation = await reserve_turn(self._quotas, caller, request)
            claim = spec.running_turn(tid, time.time())
            existing = await self._store.claim_turn(claim)
        except BaseException as error:
            await reservation.release()
            # Calls that joined this claim get the same answer as its caller.
            shared = error if isinstance(error, NarratorError) else None
            writer.buffer.end(shared or TurnAborted("the turn could not start"))
            await writer.finish()
            raise
        if existing is not None:  # the id was used before and ended meanwhile
            await reservation.release()
            writer.buffer.end(_AlreadyStored())
            await writer.finish()
            _check_kind(existing, spec)
            return self._resume(session, existing, after_seq)
        production = self._produce(
            writer, claim, request, rules, Progress(), inline=not turn_id, reservation=reservation
        )
        if not turn_id:
            return production
        self._spawn(writer, production)
        # New: from seq 1; should this server lose the turn, its followers go where it went.
        return self._rejoin(session, tid, 0, first=writer.buffer.follow())

    # --- production -------------------------------------------------------------------

    async def _produce(
        self,
        writer: TurnWriter,
        claim: Turn,
        request: object,
        rules: object,
        p: Progress,
        *,
        inline: bool,
        reservation: Reservation = NOTHING_RESERVED,
    ) -> AsyncGenerator[TurnEvent]:
        buffer = writer.buffer
        status, error = TurnStatus.FAILED, None
        ending: list[TurnEvent] = []
        self._producing += 1
        self._idle.clear()
        try:
            runner = self._runner.run(request, rules, p)  # type: ignore[arg-type]
            async with aclosing(runner) as events:
                async for event in events:
                    if writer.lost:
                        raise _Lost  # another server took the turn over; it stores it
                    if isinstance(event, str):
                        delta = buffer.add_text(event, sealed=inline)
                        p.sent = buffer.seq
                        if inline:
                            yield delta
                    elif isinstance(event, DecisionMade | TurnCompleted):
                        ending.append(event)  # sent only once the turn is stored
                    else:
                        buffer.add(event)
                        if inline:
                            yield event
            status = TurnStatus.COMPLETED
        except (asyncio.CancelledError, GeneratorExit):
            status = TurnStatus.CANCELLED
            raise
        except _Lost:
            return  # the buffer was ended for its followers when the lease was lost
        except Exception as e:
            error = e
            raise
        finally:
            if writer.lost:  # no longer ours to store or report
                await asyncio.shield(reservation.release())
                self._produced()
                await writer.finish()
            else:
                turn = _ended(claim, p, buffer.deltas, status)
                settled, quota = self._settle(writer, turn, ending, error, reservation)
                if status is TurnStatus.CANCELLED:
                    # Its caller goes once the quota is given back, without waiting for the save
                    # (tracked by the engine; a slow store never holds a cancellation up).
                    await asyncio.shield(quota)
                else:
                    problem = await asyncio.shield(settled)
                    if problem is not None and status is TurnStatus.COMPLETED:
                        raise problem
        if inline and not writer.lost:
            for event in buffer.events[-len(ending) :] if ending else ():
                yield event

    def _settle(
        self,
        writer: TurnWriter,
        turn: Turn,
        ending: list[TurnEvent],
        error: BaseException | None,
        reservation: Reservation,
    ) -> tuple[asyncio.Task[Exception | None], asyncio.Future[None]]:
        """Settles the turn's quota reservation (`quota` resolves then) and stores the ended
        turn, in its own task (a second cancellation of the producer cannot interrupt either),
        then ends the buffer and frees the turn's slot. The turn counts as producing until this
        is done. A store that cannot write keeps the turn for a retry; the task returns that
        error."""
        key = (turn.session_id, turn.turn_id)
        loop = asyncio.get_running_loop()
        quota: asyncio.Future[None] = loop.create_future()

        async def settle() -> Exception | None:
            try:
                await reservation.settle(turn.usage)
            except Exception:  # quotas never cost a turn its place in the store
                log.exception("a turn's quota reservation could not be settled")
            finally:
                quota.set_result(None)
            problem: Exception | None = None
            try:
                await self._store_turn(turn)
            except Exception as e:
                problem = e
                self.unsaved[key] = turn
                log.error(
                    "a turn could not be stored; it is kept and retried",
                    extra={"session_id": key[0], "turn_id": key[1], "error": str(e)[:200]},
                )
            buffer = writer.buffer
            if problem is None and turn.status is TurnStatus.COMPLETED:
                for event in ending:
                    if isinstance(event, TurnCompleted):
                        event = dataclasses.replace(event, text=buffer.text)
                    buffer.add(event)
                buffer.end()
            else:
                buffer.end(_for_followers(turn.status, error or problem))
            await writer.finish()
            return problem

        task = loop.create_task(settle(), name=f"store-{key[1]}")
        task.add_done_callback(self._settled)
        return task, quota

    async def _store_turn(self, turn: Turn) -> None:
        await self._store.save_turn(turn)
        if turn.status is TurnStatus.COMPLETED and turn.replaces_turn_id:
            await self._store.supersede_turn(turn.session_id, turn.replaces_turn_id)
        # The memory records what the turn's request held and folds old turns (in the
        # background); it never raises.
        await self._planner.record(turn)

    def _settled(self, task: asyncio.Task[Exception | None]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved here; the producer reports it
        self._produced()

    def _produced(self) -> None:
        self._producing -= 1
        if not self._producing:
            self._idle.set()

    def _spawn(self, writer: TurnWriter, production: AsyncGenerator[TurnEvent]) -> None:
        key = (writer.buffer.info.session_id, writer.buffer.info.turn_id)

        async def run() -> None:
            with contextlib.suppress(Exception):  # delivered to followers by the buffer
                async with aclosing(production) as events:
                    async for _ in events:
                        pass

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(key, None)
            self._stopping.discard(key)
            reaper = self._reapers.pop(key, None)
            if reaper is not None:
                reaper.cancel()

        task = asyncio.get_running_loop().create_task(run(), name=f"turn-{key[1]}")
        self._tasks[key] = task
        task.add_done_callback(done)
        writer.buffer.on_abandoned = lambda: self._abandoned(key, writer)

    def _stop(self, key: Key) -> None:
        """Cancels a running turn, once: a second cancellation would only cut its ending."""
        task = self._tasks.get(key)
        if task is not None and key not in self._stopping:
            self._stopping.add(key)
            task.cancel()

    def _abandoned(self, key: Key, writer: TurnWriter) -> None:
        """The last follower left a resumable turn: cancel it unless one comes back within
        the resume window (here or on another server). The window counts from the last
        follower's departure."""

        async def reap() -> None:
            while True:  # a follower on another server keeps it going, window after window
                await asyncio.sleep(self._config.resume_window)
                if writer.buffer.followers or writer.buffer.done or writer.lost:
                    stop = False  # a follower is back here (its leaving reaps again), or it ended
                    break
                if not await writer.followed_elsewhere():
                    stop = True
                    break
            if self._reapers.get(key) is asyncio.current_task():
                del self._reapers[key]
            if stop:
                self._stop(key)

        earlier = self._reapers.pop(key, None)
        if earlier is not None:
            earlier.cancel()
        if key in self._tasks:
            loop = asyncio.get_running_loop()
            self._reapers[key] = loop.create_task(reap(), name=f"reap-{key[1]}")

    # --- following, resuming, taking over ------------------------------------------------

    @staticmethod
    async def _follow(
        events: AsyncIterator[TurnEvent], after_seq: int, *, resumed: bool
    ) -> AsyncGenerator[TurnEvent]:
        async with aclosing(events):  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, TextDelta):
                    if event.seq <= after_seq:
                        continue
                elif isinstance(event, TurnStarted) and resumed:
                    event = dataclasses.replace(event, resumed=True)
                yield event

    def _resume(self, session: Session, turn: Turn, after_seq: int) -> AsyncGenerator[TurnEvent]:
        if turn.status.ended:
            return replay(turn, after_seq)
        return self._rejoin(session, turn.turn_id, after_seq)

    async def _rejoin(
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
                events = self._follow(source, after_seq, resumed=resumed)
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
            except (LookupError, _AlreadyStored):
                # Not (or no longer) produced anywhere: the store says how it ended.
                stored = await self._stored(sid, turn_id)
                if stored is not None and stored.status is TurnStatus.RUNNING:
                    stored = await self._interrupt(stored)
                if stored is None:
                    raise TurnAborted(
                        f"turn {turn_id!r} ended without being stored; start a new turn"
                    ) from None
                async for event in replay(stored, after_seq, started=started):
                    yield event
                return
            except ProducerLost as lost:
                stored = await self._stored(sid, turn_id)
                if stored is not None and stored.status.ended:  # stored, but not its end
                    async for event in replay(stored, after_seq, started=started):
                        yield event
                    return
                if not await self._take_over(session, turn_id, lost):
                    await asyncio.sleep(0.05)  # another server took it; follow that one
        raise TurnAborted(f"turn {turn_id!r} could not be followed; start a new turn")

    async def _take_over(self, session: Session, turn_id: str, lost: ProducerLost) -> bool:
        sid = session.session_id
        stored = await self._stored(sid, turn_id)
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
        self._spawn(writer, self._produce(writer, stored, request, rules, p, inline=False))
        return True

    async def _stored(self, session_id: str, turn_id: str) -> Turn | None:
        unsaved = self.unsaved.get((session_id, turn_id))
        return unsaved or await self._store.get_turn(session_id, turn_id)

    async def _interrupt(self, turn: Turn) -> Turn:
        """Marks a RUNNING turn that nobody produces as interrupted; returns the turn as it is
        stored now (the store never lets INTERRUPTED replace how a turn really ended)."""
        ended = dataclasses.replace(turn, status=TurnStatus.INTERRUPTED)
        try:
            await self._store.save_turn(ended)
            now = await self._store.get_turn(turn.session_id, turn.turn_id)
        except StoreUnavailable:
            return ended
        return now or ended

    # --- maintenance ----------------------------------------------------------------------

    async def sweep(self, started_before: float) -> int:
        """Marks RUNNING turns that no server produces any more as interrupted."""
        count = 0
        for turn in await self._store.running_turns(started_before):
            key = (turn.session_id, turn.turn_id)
            if key in self._tasks or key in self.unsaved or await self._log.alive(*key):
                continue
            if (await self._interrupt(turn)).status is TurnStatus.INTERRUPTED:
                count += 1
        return count

    async def retry_unsaved(self) -> bool:
        """Stores the turns a failing store could not take; True when none is left."""
        for key, turn in list(self.unsaved.items()):
            await self._store_turn(turn)
            self.unsaved.pop(key, None)
            await self._planner.record(turn)
        return not self.unsaved

    async def drain(self, timeout: float | None = None) -> bool:
        """Cancels the turns still running (once each) and waits, within `timeout`, until
        each one is stored. False when some were not."""
        for reaper in list(self._reapers.values()):
            reaper.cancel()
        for key in list(self._tasks):
            self._stop(key)
        timeout = self._config.drain_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
                with contextlib.suppress(StoreUnavailable):
                    await self.retry_unsaved()  # one last chance for what a failing store kept
        except TimeoutError:
            return False
        return not self.unsaved


class _Lost(Exception):
    """This server's lease of the turn was lost (another server continues it)."""


class _AlreadyStored(TurnAborted):
    """To calls that joined a claim which found the turn already stored: read it there."""

    def __init__(self) -> None:
        super().__init__("the turn id was already used")


def _check_kind(turn: Turn, spec: TurnSpec) -> None:
    if turn.kind is not spec.kind:
        raise InvalidArgument([FieldViolation("turn_id", f"names a {turn.kind.value} turn")])


def _ended(claim: Turn, p: Progress, deltas: list[str], status: TurnStatus) -> Turn:
    return dataclasses.replace(
        claim,
        text="".join(deltas),
        status=status,
        provider=p.provider,
        model=p.model,
        usage=p.usage,
        decision=p.decision if status is TurnStatus.COMPLETED else None,
        finish_reason=p.finish,
        recoveries=tuple(p.recoveries),
        delta_lengths=tuple(len(d) for d in deltas),
    )


def _for_followers(status: TurnStatus, error: BaseException | None) -> BaseException | None:
    """What a follower of the turn gets at its end (None: the completion events follow)."""
    if isinstance(error, NarratorError):
        return error
    if status is TurnStatus.CANCELLED:
        return TurnAborted("the turn was cancelled before it completed")
    if error is not None:
        return error
    return None
