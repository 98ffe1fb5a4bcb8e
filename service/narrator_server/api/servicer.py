"""NarratorService servicer: protobuf in, one core call, protobuf out, errors via the table."""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import TYPE_CHECKING, TypeVar, assert_never

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import turn_pb2

from ..core import models
from ..core.errors import NarratorError
from ..core.ports import Deadline
from . import convert
from .caller import caller_of
from .errors import to_status

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable

    import grpc.aio

    from ..core.narrator import Narrator
    from ..core.watch import WatchedEvent

log = logging.getLogger(__name__)
T = TypeVar("T")
Event = TypeVar("Event", pb.NarrateResponse, pb.DecideResponse)


def _deadline(context: grpc.aio.ServicerContext[object, object]) -> Deadline:
    return Deadline.after(context.time_remaining())


def _completed(event: models.TurnCompleted) -> turn_pb2.TurnCompleted:
    return turn_pb2.TurnCompleted(
        finish_reason=convert.FINISH[event.finish_reason],
        usage=convert.usage_to_pb(event.usage),
        text=event.text,
        recoveries=convert.recoveries_to_pb(event.recoveries),
    )


def _started(event: models.TurnStarted) -> turn_pb2.TurnStarted:
    return turn_pb2.TurnStarted(
        turn_id=event.turn_id, provider=event.provider, model=event.model, resumed=event.resumed
    )


def _event_to_pb(event: models.TurnEvent, message: type[Event]) -> Event:
    if isinstance(event, models.TextDelta):
        return message(delta=turn_pb2.TextDelta(seq=event.seq, text=event.text))
    if isinstance(event, models.TurnStarted):
        return message(started=_started(event))
    if isinstance(event, models.TurnCompleted):
        return message(completed=_completed(event))
    if isinstance(event, models.DecisionMade):
        if message is not pb.DecideResponse:
            raise TypeError("a decision in a narration stream")
        return pb.DecideResponse(decision=convert.decision_to_pb(event.decision))
    assert_never(event)


def _watched_to_pb(watched: WatchedEvent) -> pb.WatchSessionResponse:
    info, event = watched.info, watched.event
    out = pb.WatchSessionResponse(turn_id=info.turn_id, kind=convert.KIND[info.kind])
    if isinstance(event, models.TextDelta):
        out.delta.CopyFrom(turn_pb2.TextDelta(seq=event.seq, text=event.text))
    elif isinstance(event, models.TurnStarted):
        out.started.CopyFrom(_started(event))
        out.input = info.input
    elif isinstance(event, models.TurnCompleted):
        out.completed.CopyFrom(_completed(event))
    elif isinstance(event, models.DecisionMade):
        out.decision.CopyFrom(convert.decision_to_pb(event.decision))
    elif isinstance(event, models.TurnEnded):
        out.ended.CopyFrom(pb.TurnEnded(status=convert.STATUS[event.status], reason=event.reason))
    else:
        assert_never(event)
    return out


class NarratorServicer(pb_grpc.NarratorServiceServicer):
    def __init__(self, narrator: Narrator) -> None:
        self._narrator = narrator

    async def CreateSession(
        self, request: pb.CreateSessionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.CreateSessionResponse:
        session = await _unary(
            context,
            self._narrator.create_session(
                caller_of(context),
                models.Setting(request.setting.world, request.setting.tone),
                models.PlayerCharacter(request.player.name, request.player.description),
                request.seed,
                convert.rating_from_pb(request.content_rating),
            ),
        )
        return pb.CreateSessionResponse(session=convert.session_to_pb(session))

    async def GetSession(
        self, request: pb.GetSessionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.GetSessionResponse:
        session = await _unary(
            context,
            self._narrator.get_session(
                caller_of(context), request.session_id, request.recent_turn_limit
            ),
        )
        return pb.GetSessionResponse(session=convert.session_to_pb(session))

    async def DeleteSession(
        self, request: pb.DeleteSessionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.DeleteSessionResponse:
        await _unary(context, self._narrator.delete_session(caller_of(context), request.session_id))
        return pb.DeleteSessionResponse()

    async def Narrate(
        self, request: pb.NarrateRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> AsyncGenerator[pb.NarrateResponse, None]:
        events = self._narrator.narrate(
            caller_of(context),
            request.session_id,
            request.action,
            convert.scene_from_pb(request.scene),
            _deadline(context),
            request.turn_id,
            request.resume_after_seq,
            request.regenerate,
        )
        async with aclosing(_stream(context, events, pb.NarrateResponse)) as messages:
            async for message in messages:
                yield message

    async def Decide(
        self, request: pb.DecideRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> AsyncGenerator[pb.DecideResponse, None]:
        events = self._narrator.decide(
            caller_of(context),
            request.session_id,
            request.question,
            convert.options_from_pb(list(request.options)),
            request.default_option_id,
            convert.scene_from_pb(request.scene),
            _deadline(context),
            request.turn_id,
            request.resume_after_seq,
            request.regenerate,
        )
        async with aclosing(_stream(context, events, pb.DecideResponse)) as messages:
            async for message in messages:
                yield message

    async def WatchSession(
        self, request: pb.WatchSessionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> AsyncGenerator[pb.WatchSessionResponse, None]:
        events = self._narrator.watch(caller_of(context), request.session_id)
        async with aclosing(events):
            try:
                async for watched in events:
                    yield _watched_to_pb(watched)
                return
            except Exception as error:
                status = _status_of(error)
            await context.abort_with_status(status)

    async def PutLoreEntry(
        self, request: pb.PutLoreEntryRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.PutLoreEntryResponse:
        entry = await _unary(
            context,
            self._narrator.put_lore(
                caller_of(context), request.session_id, convert.lore_from_pb(request.entry)
            ),
        )
        return pb.PutLoreEntryResponse(entry=convert.lore_to_pb(entry))

    async def ListLoreEntries(
        self, request: pb.ListLoreEntriesRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ListLoreEntriesResponse:
        entries, token = await _unary(
            context,
            self._narrator.list_lore(
                caller_of(context), request.session_id, request.page_size, request.page_token
            ),
        )
        return pb.ListLoreEntriesResponse(
            entries=[convert.lore_to_pb(e) for e in entries], next_page_token=token
        )

    async def DeleteLoreEntry(
        self, request: pb.DeleteLoreEntryRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.DeleteLoreEntryResponse:
        await _unary(
            context,
            self._narrator.delete_lore(caller_of(context), request.session_id, request.entry_id),
        )
        return pb.DeleteLoreEntryResponse()

    async def GetTurnContext(
        self, request: pb.GetTurnContextRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.GetTurnContextResponse:
        view = await _unary(
            context,
            self._narrator.turn_context(caller_of(context), request.session_id, request.turn_id),
        )
        return convert.context_to_pb(view)

    async def ExportSession(
        self, request: pb.ExportSessionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ExportSessionResponse:
        document = await _unary(
            context, self._narrator.export_session(caller_of(context), request.session_id)
        )
        return pb.ExportSessionResponse(document=document)

    async def ImportSession(
        self, request: pb.ImportSessionRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ImportSessionResponse:
        session = await _unary(
            context, self._narrator.import_session(caller_of(context), request.document)
        )
        return pb.ImportSessionResponse(session=convert.session_to_pb(session))


async def _unary(context: grpc.aio.ServicerContext[object, object], call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as error:
        status = _status_of(error)
    # Aborted outside the except block: raised inside it, the abort would carry the error
    # (and its traceback, and this frame holding it) in a reference cycle.
    await context.abort_with_status(status)
    raise AssertionError("unreachable: abort raises")


def _status_of(error: Exception) -> grpc.Status:
    """The error's status (call it in the except block: a bug is logged with its traceback)."""
    if not isinstance(error, NarratorError):
        # A bug, not a domain error: log it whole, tell the client nothing of its internals.
        log.exception("unexpected error in a handler")
        error = NarratorError("internal error")
    return to_status(error)


async def _stream(
    context: grpc.aio.ServicerContext[object, object],
    events: AsyncIterator[models.TurnEvent],
    message: type[Event],
) -> AsyncGenerator[Event, None]:
    # aclosing: when the client goes away, the core's turn is closed (and stored) at once.
    async with aclosing(events):  # type: ignore[type-var]
        try:
            async for event in events:
                yield _event_to_pb(event, message)
            return
        except Exception as error:
            status = _status_of(error)
        await context.abort_with_status(status)  # see `_unary`
