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
from .errors import InvalidArgument, SessionNotFound
from .models import Session, TurnKind
from .ports import ChatRequest, Deadline, TurnContext
from .turns import TurnRunner

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .models import DecisionOption, PlayerCharacter, Scene, Setting, TurnEvent
    from .ports import ChatMessage, ChatProvider, SessionStore


@dataclass(frozen=True)
class NarratorConfig:
    """Tunables of the use cases, from settings."""

    limits: validation.Limits = field(default_factory=validation.Limits)
    history_token_budget: int = 3000
    history_max_turns: int = 50
    max_tokens: int = 600
    temperature: float = 0.8


class Narrator:
    """The Dungeon Master: sessions, narration and decisions over a provider and a store."""

    def __init__(
        self, provider: ChatProvider, store: SessionStore, config: NarratorConfig | None = None
    ) -> None:
        self._store = store
        self._config = config or NarratorConfig()
        self._turns = TurnRunner(provider, store)

    async def drain(self, timeout: float = 5.0) -> bool:
        """Waits for running turns to be stored (after the server cancelled them)."""
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
        self, session_id: str, action: str, scene: Scene, deadline: Deadline | None = None
    ) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events: TurnStarted, TextDelta..., TurnCompleted. Raises NarratorError."""
        validation.check_narrate(session_id, action, scene, self._config.limits)
        session, history = await self._memory(session_id)
        request = self._request(
            TurnContext(
                session, uuid.uuid4().hex, session.turn_count, TurnKind.NARRATION, action, scene
            ),
            prompt.narration_messages(session, history, scene, action),
            deadline,
        )
        async with aclosing(self._turns.run(request)) as events:
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
    ) -> AsyncGenerator[TurnEvent, None]:
        """TurnStarted, rationale TextDelta..., DecisionMade, TurnCompleted."""
        limits = self._config.limits
        schemas = validation.check_decide(
            session_id, question, options, default_option_id, scene, limits
        )
        rules = DecisionRules(schemas, default_option_id)
        session, history = await self._memory(session_id)
        ctx = TurnContext(
            session,
            uuid.uuid4().hex,
            session.turn_count,
            TurnKind.DECISION,
            question,
            scene,
            options,
        )
        request = self._request(
            ctx,
            prompt.decision_messages(session, history, scene, question, options),
            deadline,
            response_schema=prompt.decision_schema(schemas),
        )
        async with aclosing(self._turns.run(request, rules)) as events:
            async for event in events:
                yield event

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
