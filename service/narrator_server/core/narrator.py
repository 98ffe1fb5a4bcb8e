"""The use cases the API calls: sessions, narrate, decide and watch, for one caller at a time.

Every call carries the `Caller`; a session belongs to the tenant that created it, and another
tenant's session does not exist for this caller (NOT_FOUND, whatever the RPC).
"""

from __future__ import annotations

import secrets
import time
import uuid
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import validation
from .engine import EngineConfig, TurnEngine
from .errors import FailedPrecondition, InvalidArgument, Overloaded, SessionNotFound
from .lore_book import LoreBook
from .memory import CampaignMemory, MemoryConfig
from .models import ContentRating, Session, TurnKind, TurnStatus
from .moderation import ModerationConfig, check_input
from .planning import MemoryPlanner, PlanConfig, TurnSpec
from .ports import Deadline
from .savegame import SaveGames
from .schema_work import SchemaWork
from .turns import TurnRunner
from .watch import watch_session

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .memory_models import LoreEntry, Recollection, TurnContextView
    from .memory_storage import CampaignStore
    from .models import Caller, DecisionOption, PlayerCharacter, Scene, Setting, TurnEvent
    from .moderation import Moderator
    from .planning import Planner
    from .ports import ChatProvider
    from .quotas import Quotas
    from .turnlog import TurnLog
    from .watch import WatchedEvent


@dataclass(frozen=True)
class NarratorConfig:
    """Tunables of the use cases, from settings."""

    limits: validation.Limits = field(default_factory=validation.Limits)
    plan: PlanConfig = field(default_factory=PlanConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    # Summaries are asked of the provider (else only the offline summarizer writes them).
    model_summaries: bool = True
    max_streams: int = 256
    max_watchers: int = 1024
    watch_buffer: int = 2048
    resume_window: float = 10.0
    max_recoveries: int = 2
    default_rating: ContentRating = ContentRating.TEEN
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    max_turn_chars: int = 131_072


class Narrator:
    """The Dungeon Master: sessions, narration, decisions and watchers."""

    def __init__(
        self,
        provider: ChatProvider,
        store: CampaignStore,
        turn_log: TurnLog,
        config: NarratorConfig | None = None,
        planner: Planner | None = None,
        quotas: Quotas | None = None,
        schema_work: SchemaWork | None = None,
        moderator: Moderator | None = None,
    ) -> None:
        self._moderator = moderator
        self._store = store
        self._log = turn_log
        self._config = c = config or NarratorConfig()
        self._schemas = schema_work or SchemaWork()
        self.memory = CampaignMemory(store, provider if c.model_summaries else None, c.memory)
        self._lore = LoreBook(self.owned, store, self.memory)
        self._saves = SaveGames(self.owned, store, c.limits, c.memory.lore)
        self.engine = TurnEngine(
            TurnRunner(
                provider, c.max_recoveries, self._schemas, c.max_turn_chars, moderator, c.moderation
            ),
            store,
            turn_log,
            planner or MemoryPlanner(self.memory, c.plan),
            EngineConfig(max_running=c.max_streams, resume_window=c.resume_window),
            quotas,
            moderator,
        )
        self._streams = 0
        self._watchers = 0

    @property
    def active_streams(self) -> int:
        return self._streams

    @property
    def live_turns(self) -> int:
        return self.engine.producing

    async def drain(self, timeout: float | None = None) -> bool:
        """Cancels the turns still running (after the server stopped its calls) and waits
        until each is stored; then ends the memory's background work."""
        stored = await self.engine.drain(timeout)
        await self.memory.drain(5.0 if timeout is None else timeout)
        return stored

    # --- sessions -------------------------------------------------------------------------

    async def create_session(
        self,
        caller: Caller,
        setting: Setting,
        player: PlayerCharacter,
        seed: int = 0,
        rating: ContentRating | None = None,
    ) -> Session:
        validation.check_new_session(setting, player, self._config.limits)
        rating = rating or self._config.default_rating
        if self._moderator is not None:  # what the player typed for their character
            await check_input(
                self._moderator,
                rating,
                (("player.name", player.name), ("player.description", player.description)),
            )
        session = Session(
            session_id=uuid.uuid4().hex,
            setting=setting,
            player=player,
            seed=seed or secrets.randbits(63) or 1,
            created_at=time.time(),
            tenant=caller.tenant,
            content_rating=rating,
        )
        await self._store.create_session(session)
        return session

    async def get_session(
        self, caller: Caller, session_id: str, recent_turn_limit: int = 0
    ) -> Session:
        limit = min(recent_turn_limit or 10, 100)
        return await self.owned(caller, session_id, limit)

    async def delete_session(self, caller: Caller, session_id: str) -> None:
        await self.owned(caller, session_id)
        if not await self._store.delete_session(session_id):
            raise SessionNotFound(session_id)
        self.memory.lore_changed(session_id)
        await self._log.close_session(session_id)

    async def owned(self, caller: Caller, session_id: str, recent_turns: int = 0) -> Session:
        """The session, if it exists and belongs to the caller's tenant; else NOT_FOUND."""
        if violations := validation.check_session_id(session_id):
            raise InvalidArgument(violations)
        session = await self._store.get_session(session_id, recent_turns)
        if session is None or session.tenant != caller.tenant:
            raise SessionNotFound(session_id)
        return session

    async def _recollection(self, caller: Caller, session_id: str) -> Recollection:
        """`owned`, from the memory's read for a turn (one store read for both)."""
        if violations := validation.check_session_id(session_id):
            raise InvalidArgument(violations)
        found = await self.memory.read(session_id)
        if found is None or found.session.tenant != caller.tenant:
            raise SessionNotFound(session_id)
        return found

    # --- turns ----------------------------------------------------------------------------

    async def narrate(
        self,
        caller: Caller,
        session_id: str,
        action: str,
        scene: Scene,
        deadline: Deadline | None = None,
        turn_id: str = "",
        resume_after_seq: int = 0,
        regenerate: bool = False,
    ) -> AsyncGenerator[TurnEvent]:
        """The turn's events: TurnStarted, TextDelta..., TurnCompleted. Raises NarratorError."""
        validation.check_narrate(session_id, action, scene, self._config.limits, turn_id)
        spec = TurnSpec(session_id, TurnKind.NARRATION, action, scene)
        turn = self._turn(caller, spec, deadline, turn_id, resume_after_seq, regenerate)
        async with aclosing(turn) as events:
            async for event in events:
                yield event

    async def decide(
        self,
        caller: Caller,
        session_id: str,
        question: str,
        options: tuple[DecisionOption, ...],
        default_option_id: str,
        scene: Scene,
        deadline: Deadline | None = None,
        turn_id: str = "",
        resume_after_seq: int = 0,
        regenerate: bool = False,
    ) -> AsyncGenerator[TurnEvent]:
        """TurnStarted, rationale TextDelta..., DecisionMade, TurnCompleted."""
        schemas = await validation.check_decide(
            session_id, question, options, default_option_id, scene, self._config.limits,
            turn_id, self._schemas,
        )  # fmt: skip
        spec = TurnSpec(
            session_id, TurnKind.DECISION, question, scene, options, default_option_id,
            schemas=schemas,
        )  # fmt: skip
        turn = self._turn(caller, spec, deadline, turn_id, resume_after_seq, regenerate)
        async with aclosing(turn) as events:
            async for event in events:
                yield event

    async def _turn(
        self,
        caller: Caller,
        spec: TurnSpec,
        deadline: Deadline | None,
        turn_id: str,
        after_seq: int,
        regenerate: bool,
    ) -> AsyncGenerator[TurnEvent]:
        """Joins, replays or starts the turn, within the stream limit."""
        if self._streams >= self._config.max_streams:
            raise Overloaded(f"the server is at its limit of {self._config.max_streams} streams")
        self._streams += 1
        try:
            found = None
            if regenerate:
                session = await self.owned(caller, spec.session_id)
                spec = await self._regeneration(spec, turn_id)
            else:  # who owns the session, from the read the turn is planned from
                found = await self._recollection(caller, spec.session_id)
                session = found.session
            turn = self.engine.open(
                session,
                spec,
                turn_id=turn_id,
                after_seq=after_seq,
                deadline=deadline or Deadline(),
                caller=caller,
                found=found,
            )
            async with aclosing(turn) as events:
                async for event in events:
                    yield event
        finally:
            self._streams -= 1

    async def _regeneration(self, spec: TurnSpec, turn_id: str) -> TurnSpec:
        """The spec of a re-roll: it replaces the session's last current turn (a resumed
        re-roll is its own last turn)."""
        session = await self._store.get_session(spec.session_id, 20)
        current = [t for t in session.recent_turns if not t.superseded] if session else []
        if not current:
            raise FailedPrecondition("the session has no turn to regenerate")
        last = current[-1]
        if turn_id and last.turn_id == turn_id:
            return spec
        if last.status is TurnStatus.RUNNING:
            raise FailedPrecondition(
                f"the session's last turn {last.turn_id!r} is still running; regenerate it "
                "once it ended"
            )
        return TurnSpec(
            spec.session_id, spec.kind, spec.input, spec.scene, spec.options,
            spec.default_option_id, last.turn_id, spec.schemas,
        )  # fmt: skip

    # --- memory: lore, contexts, save games (use cases in lore_book and savegame) ---------

    async def put_lore(self, caller: Caller, session_id: str, entry: LoreEntry) -> LoreEntry:
        return await self._lore.put(caller, session_id, entry)

    async def list_lore(
        self, caller: Caller, session_id: str, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[LoreEntry], str]:
        return await self._lore.list(caller, session_id, page_size, page_token)

    async def delete_lore(self, caller: Caller, session_id: str, entry_id: str) -> None:
        await self._lore.delete(caller, session_id, entry_id)

    async def turn_context(self, caller: Caller, session_id: str, turn_id: str) -> TurnContextView:
        return await self._lore.context(caller, session_id, turn_id)

    async def export_session(self, caller: Caller, session_id: str) -> str:
        return await self._saves.export(caller, session_id)

    async def import_session(self, caller: Caller, document: str) -> Session:
        return await self._saves.import_(caller, document)

    async def watch(self, caller: Caller, session_id: str) -> AsyncGenerator[WatchedEvent]:
        """Every turn of the session as it happens, until cancelled or the session is
        deleted. A watcher that falls too far behind is ended with Overloaded."""
        await self.owned(caller, session_id)
        if self._watchers >= self._config.max_watchers:
            raise Overloaded(f"the server is at its limit of {self._config.max_watchers} watchers")
        self._watchers += 1
        try:
            events = watch_session(self._log, session_id, self._config.watch_buffer)
            async with aclosing(events) as stream:
                async for event in stream:
                    yield event
        finally:
            self._watchers -= 1
