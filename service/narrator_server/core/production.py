"""Producing one turn: the runner's events into the turn's buffer (and, inline, to its caller),
then the turn stored once, however it ended, with its quota settled.

The store write runs in its own task: a second cancellation of the producer cannot interrupt
it, a cancelled caller leaves as soon as its quota is given back, and the turn counts as
producing (for drain) until it is stored. A store that cannot write keeps the turn in the
books for a retry. `TurnCompleted` (and a decision) reach the caller only once the turn is
stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING

from .errors import NarratorError, TurnAborted
from .models import DecisionMade, TurnCompleted, TurnStatus
from .quotas import NOTHING_RESERVED

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .decisions import DecisionRules
    from .models import Turn, TurnEvent
    from .planning import Planner
    from .ports import ChatRequest
    from .quotas import Reservation
    from .storage import SessionStore
    from .turnbook import TurnBook
    from .turnlog import TurnWriter
    from .turns import Progress, TurnRunner

log = logging.getLogger(__name__)


class Lost(Exception):
    """This server's lease of the turn was lost (another server continues it)."""


class Production:
    def __init__(
        self, runner: TurnRunner, store: SessionStore, planner: Planner, book: TurnBook
    ) -> None:
        self._runner = runner
        self._store = store
        self._planner = planner
        self._book = book

    async def produce(
        self,
        writer: TurnWriter,
        claim: Turn,
        request: ChatRequest,
        rules: DecisionRules | None,
        p: Progress,
        *,
        inline: bool,
        reservation: Reservation = NOTHING_RESERVED,
        claiming: asyncio.Future[Turn | None] | None = None,
    ) -> AsyncGenerator[TurnEvent]:
        """Runs the turn into its buffer; `inline` also yields its events to the caller.
        `claiming`: the store claim still being written (awaited before the first event)."""
        buffer = writer.buffer
        status, error = TurnStatus.FAILED, None
        ending: list[TurnEvent] = []
        self._book.started()
        try:
            async with aclosing(self._runner.run(request, rules, p)) as events:
                async for event in events:
                    if writer.lost:
                        raise Lost  # another server took the turn over; it stores it
                    if claiming is not None:
                        await asyncio.shield(claiming)  # a claim that failed fails the turn
                        claiming = None
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
        except Lost:
            return  # the buffer was ended for its followers when the lease was lost
        except Exception as e:
            error = e
            raise
        finally:
            if writer.lost:  # no longer ours to store or report
                await asyncio.shield(reservation.release())
                self._book.produced()
                await writer.finish()
            else:
                turn = ended(claim, p, buffer.deltas, status)
                settled, quota = self._settle(writer, turn, ending, error, reservation, claiming)
                error = None  # its traceback holds this frame: no cycle left behind
                if status is TurnStatus.CANCELLED:
                    # Its caller goes once the quota is given back, without waiting for the save
                    # (tracked by the books; a slow store never holds a cancellation up).
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
        claiming: asyncio.Future[Turn | None] | None = None,
    ) -> tuple[asyncio.Task[Exception | None], asyncio.Future[None]]:
        """Settles the turn's quota reservation (`quota` resolves then) and stores the ended
        turn, in its own task, then ends the buffer and frees the turn's slot. The task
        returns the store's error, if any."""
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
                if claiming is not None:
                    await claiming  # the turn's row first
            except Exception as e:
                problem = e  # never claimed: the caller was told, nothing is stored
            if problem is None and not await writer.held():
                await writer.finish()  # another server took the turn over; it stores it
                return None
            try:
                if problem is None:
                    await self.store_turn(turn)
            except Exception as e:
                problem = e
                self._book.unsaved[key] = turn
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
                buffer.end(for_followers(turn.status, error or problem))
            await writer.finish()
            return problem

        task = loop.create_task(settle(), name=f"store-{key[1]}")
        task.add_done_callback(self._settled)
        return task, quota

    async def store_turn(self, turn: Turn) -> None:
        # What the turn's request held is stored in the turn's own write; then the memory
        # folds old turns (in the background). Recording never raises.
        record = self._planner.turn_record(turn)
        await self._store.save_turn(turn, record)
        if turn.status is TurnStatus.COMPLETED and turn.replaces_turn_id:
            await self._store.supersede_turn(turn.session_id, turn.replaces_turn_id)
        await self._planner.record(turn, recorded=record is not None)

    def _settled(self, task: asyncio.Task[Exception | None]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved here; the producer reports it
        self._book.produced()


def ended(claim: Turn, p: Progress, deltas: list[str], status: TurnStatus) -> Turn:
    """The claimed turn as it ended."""
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


def for_followers(status: TurnStatus, error: BaseException | None) -> BaseException | None:
    """What a follower of the turn gets at its end (None: the completion events follow)."""
    if isinstance(error, NarratorError):
        return error
    if status is TurnStatus.CANCELLED:
        return TurnAborted("the turn was cancelled before it completed")
    return error
