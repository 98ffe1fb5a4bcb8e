"""The use cases the API calls: sessions, narrate and decide."""

from __future__ import annotations

import secrets
import time
import uuid
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import prompt, validation
from .decisions import DecisionRules
from .errors import FieldViolation, InvalidArgument, Overloaded, SessionNotFound, TurnAborted
from .live import LiveTurn, LiveTurns
from .models import (
    DecisionMade,
    Session,
    TextDelta,
    TurnCompleted,
    TurnKind,
    TurnStarted,
    TurnStatus,
)
from .ports import ChatRequest, Deadline, TurnContext
from .turns import TurnRunner

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from .models import DecisionOption, PlayerCharacter, Scene, Setting, Turn, TurnEvent
    from .ports import ChatMessage, ChatProvider, SessionStore

    # Builds a turn's request (and decision rules) once its session and memory are known.
    Plan = Callable[[Session, list[ChatMessage], str], tuple[ChatRequest, DecisionRules | None]]


@dataclass(frozen=True)
class NarratorConfig:
    """Tunables of the use cases, from settings."""

    limits: validation.Limits = field(default_factory=validation.Limits)
    history_token_budget: int = 3000
    history_max_turns: int = 50
    max_tokens: int = 600
    temperature: float = 0.8
    max_streams: int = 256
    resume_window: float = 10.0
    max_recoveries: int = 2


class Narrator:
    """The Dungeon Master: sessions, narration and decisions over a provider and a store."""

    def __init__(
        self, provider: ChatProvider, store: SessionStore, config: NarratorConfig | None = None
    ) -> None:
        self._store = store
        self._config = config or NarratorConfig()
        self._turns = TurnRunner(provider, store, self._config.max_recoveries)
        self._live = LiveTurns(self._config.resume_window)
        self._streams = 0

    @property
    def active_streams(self) -> int:
        return self._streams

    @property
    def live_turns(self) -> int:
        return len(self._live)

    async def drain(self, timeout: float = 5.0) -> bool:
        """Cancels the turns still running (after the server stopped its calls) and waits
        until each is stored."""
        await self._live.cancel_all()
        return await self._turns.wait_idle(timeout)

    async def create_session(self, setting: Setting, player: PlayerCharacter, seed: int) -> Session:
        validation.check_new_session(setting, player, self._config.limits)
        session = Session(
            session_id=uuid.uuid4().hex,
            setting=setting,
            player=player,
            seed=seed or secrets.randbits(63) or 1,
            created_at=time.time(),
        )
        await self._store.create_session(session)
        return session

    async def get_session(self, session_id: str, recent_turn_limit: int = 0) -> Session:
        if violations := validation.check_session_id(session_id):
            raise InvalidArgument(violations)
        limit = min(recent_turn_limit or 10, 100)
        session = await self._store.get_session(session_id, limit)
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def delete_session(self, session_id: str) -> None:
        if violations := validation.check_session_id(session_id):
            raise InvalidArgument(violations)
        if not await self._store.delete_session(session_id):
            raise SessionNotFound(session_id)

    async def narrate(
        self,
        session_id: str,
        action: str,
        scene: Scene,
        deadline: Deadline | None = None,
        turn_id: str = "",
        resume_after_seq: int = 0,
    ) -> AsyncGenerator[TurnEvent]:
        """The turn's events: TurnStarted, TextDelta..., TurnCompleted. Raises NarratorError."""
        validation.check_narrate(session_id, action, scene, self._config.limits, turn_id)

        def plan(
            session: Session, history: list[ChatMessage], tid: str
        ) -> tuple[ChatRequest, DecisionRules | None]:
            ctx = TurnContext(session, tid, session.turn_count, TurnKind.NARRATION, action, scene)
            messages = prompt.narration_messages(session, history, scene, action)
            return self._request(ctx, messages, deadline), None

        turn = self._turn(session_id, TurnKind.NARRATION, turn_id, resume_after_seq, plan)
        async with aclosing(turn) as events:
            async for event in events:
                yield event

    async def decide(
        self,
        session_id: str,
        question: str,
        options: tuple[DecisionOption, ...],
        default_option_id: str,
        scene: Scene,
        deadline: Deadline | None = None,
        turn_id: str = "",
        resume_after_seq: int = 0,
    ) -> AsyncGenerator[TurnEvent]:
        """TurnStarted, rationale TextDelta..., DecisionMade, TurnCompleted."""
        limits = self._config.limits
        schemas = validation.check_decide(
            session_id, question, options, default_option_id, scene, limits, turn_id
        )

        def plan(
            session: Session, history: list[ChatMessage], tid: str
        ) -> tuple[ChatRequest, DecisionRules | None]:
            ctx = TurnContext(
                session, tid, session.turn_count, TurnKind.DECISION, question, scene, options
            )
            messages = prompt.decision_messages(session, history, scene, question, options)
            schema = prompt.decision_schema(schemas)
            request = self._request(ctx, messages, deadline, response_schema=schema)
            return request, DecisionRules(schemas, default_option_id)

        turn = self._turn(session_id, TurnKind.DECISION, turn_id, resume_after_seq, plan)
        async with aclosing(turn) as events:
            async for event in events:
                yield event

    async def _turn(
        self, session_id: str, kind: TurnKind, turn_id: str, after_seq: int, plan: Plan
    ) -> AsyncGenerator[TurnEvent]:
        """Joins, replays or starts the turn, within the stream limit."""
        if self._streams >= self._config.max_streams:
            raise Overloaded(f"the server is at its limit of {self._config.max_streams} streams")
        self._streams += 1
        try:
            source = await self._source(session_id, kind, turn_id, after_seq, plan)
            async with aclosing(source) as events:
                async for event in events:
                    yield event
        finally:
            self._streams -= 1

    async def _source(
        self, session_id: str, kind: TurnKind, turn_id: str, after_seq: int, plan: Plan
    ) -> AsyncGenerator[TurnEvent]:
        """Joins the live turn, replays the stored one, or starts a new one (from seq 1,
        whatever `after_seq` says: the client sees `resumed` false and starts over)."""
        if turn_id:
            live = self._live.get(turn_id)
            stored = None if live is not None else await self._store.get_turn(turn_id)
            _check_owner(live or stored, session_id, kind)
            if live is not None:
                return live.follow(after_seq, resumed=True)
            if stored is not None:
                return _replay(stored, after_seq)
        session, history = await self._memory(session_id)
        live = self._live.get(turn_id) if turn_id else None
        if live is not None:  # started by a concurrent call while we read the session
            _check_owner(live, session_id, kind)
            return live.follow(after_seq, resumed=True)
        request, rules = plan(session, history, turn_id or uuid.uuid4().hex)
        live = self._live.start(
            request.context.turn_id,
            session_id,
            kind,
            bool(turn_id),
            lambda: self._turns.run(request, rules),
        )
        return live.follow()

    async def _memory(self, session_id: str) -> tuple[Session, list[ChatMessage]]:
        session = await self._store.get_session(session_id, 0)
        if session is None:
            raise SessionNotFound(session_id)
        turns = await self._store.recent_completed_turns(session_id, self._config.history_max_turns)
        return session, prompt.fit_history(turns, self._config.history_token_budget)

    def _request(
        self,
        ctx: TurnContext,
        messages: tuple[ChatMessage, ...],
        deadline: Deadline | None,
        response_schema: dict[str, object] | None = None,
    ) -> ChatRequest:
        return ChatRequest(
            messages=messages,
            context=ctx,
            deadline=deadline or Deadline(),
            max_tokens=self._config.max_tokens,
            temperature=self._config.temperature,
            response_schema=response_schema,
        )


def _check_owner(turn: Turn | LiveTurn | None, session_id: str, kind: TurnKind) -> None:
    """A resumed turn_id must name a turn of this session and of this RPC's kind."""
    if turn is None:
        return
    if turn.session_id != session_id:
        raise InvalidArgument([FieldViolation("turn_id", "is used by another session")])
    if turn.kind is not kind:
        raise InvalidArgument([FieldViolation("turn_id", f"names a {turn.kind.value} turn")])


async def _replay(turn: Turn, after_seq: int) -> AsyncGenerator[TurnEvent]:
    """A stored turn's stream again, with the same seq: no model request, no tokens."""
    yield TurnStarted(turn.turn_id, turn.provider, turn.model, resumed=True)
    position = 0
    for seq, length in enumerate(turn.delta_lengths, start=1):
        piece = turn.text[position : position + length]
        position += length
        if seq > after_seq:
            yield TextDelta(seq, piece)
    if turn.status is not TurnStatus.COMPLETED:
        raise TurnAborted(
            f"turn {turn.turn_id!r} ended {turn.status.value}; start a new turn with a new turn_id"
        )
    if turn.decision is not None:
        yield DecisionMade(turn.decision)
    yield TurnCompleted(turn.finish_reason, turn.usage, turn.text, turn.recoveries)
