"""What a turn is about (`TurnSpec`) and how its model request is built (`Planner`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import prompt, validation
from .decisions import DecisionRules
from .memory import TurnInput
from .models import Turn, TurnKind, TurnStatus, Usage
from .ports import ChatRequest, TurnContext

if TYPE_CHECKING:
    from .memory import Memory
    from .memory_models import Recollection, TurnRecord
    from .models import DecisionOption, Scene, Session
    from .ports import ChatMessage, Deadline

Schemas = dict[str, dict[str, Any] | None]


@dataclass(frozen=True)
class TurnSpec:
    """A turn as the caller asked for it; stored with the turn so any server can rebuild its
    request (a takeover) from the store alone."""

    session_id: str
    kind: TurnKind
    input: str
    scene: Scene
    options: tuple[DecisionOption, ...] = ()
    default_option_id: str = ""
    # The turn it regenerates, if any.
    replaces_turn_id: str = ""
    # The options' parsed argument schemas (Decide), when validation already parsed them.
    schemas: Schemas | None = field(default=None, compare=False)

    @classmethod
    def of(cls, turn: Turn) -> TurnSpec:
        return cls(
            turn.session_id,
            turn.kind,
            turn.input,
            turn.scene,
            turn.options,
            turn.default_option_id,
            turn.replaces_turn_id,
        )

    def running_turn(self, turn_id: str, now: float) -> Turn:
        """The row that claims the turn when it starts."""
        return Turn(
            turn_id=turn_id,
            session_id=self.session_id,
            kind=self.kind,
            input=self.input,
            scene=self.scene,
            text="",
            status=TurnStatus.RUNNING,
            provider="",
            model="",
            usage=Usage(),
            created_at=now,
            options=self.options,
            default_option_id=self.default_option_id,
            replaces_turn_id=self.replaces_turn_id,
        )


class Planner(Protocol):
    """Builds a turn's model request from its session, its memory and its spec."""

    async def plan(
        self,
        session: Session,
        spec: TurnSpec,
        turn_id: str,
        deadline: Deadline,
        found: Recollection | None = None,
    ) -> tuple[ChatRequest, DecisionRules | None]:
        """The request (and a decision's rules). Raises InvalidArgument when the turn cannot
        fit the prompt budget: nothing is sent upstream and nothing stored. `found`: the
        memory's read of the session made for this turn (`Memory.read`), if any."""

    def turn_record(self, turn: Turn) -> TurnRecord | None:
        """What the ended turn's request held, to store with it (None: nothing to record)."""

    async def record(self, turn: Turn, *, recorded: bool = False) -> None:
        """The turn ended and was stored (whatever its status), with its `turn_record` when
        `recorded`. Never raises."""


@dataclass(frozen=True)
class PlanConfig:
    max_tokens: int = 600
    temperature: float = 0.8


class MemoryPlanner:
    """The prompt of a turn from the campaign's memory: the sections the memory recalls, in
    order, as chat messages."""

    def __init__(self, memory: Memory, config: PlanConfig | None = None) -> None:
        self.memory = memory
        self._config = config or PlanConfig()

    async def plan(
        self,
        session: Session,
        spec: TurnSpec,
        turn_id: str,
        deadline: Deadline,
        found: Recollection | None = None,
    ) -> tuple[ChatRequest, DecisionRules | None]:
        asked = TurnInput(spec.kind, spec.input, spec.scene, spec.options, spec.replaces_turn_id)
        assembled = await self.memory.recall(session, asked, turn_id, found=found)
        messages = prompt.messages_of(assembled.sections, assembled.history)
        ctx = TurnContext(
            session,
            turn_id,
            session.turn_count,
            spec.kind,
            spec.input,
            spec.scene,
            spec.options,
            recent=assembled.recent,
        )
        if spec.kind is TurnKind.NARRATION:
            return self._request(ctx, messages, deadline), None
        schemas = spec.schemas
        if schemas is None:
            schemas = validation.option_schemas(spec.options)
        request = self._request(ctx, messages, deadline, prompt.decision_schema(schemas))
        return request, DecisionRules(schemas, spec.default_option_id)

    def turn_record(self, turn: Turn) -> TurnRecord | None:
        return self.memory.turn_record(turn)

    async def record(self, turn: Turn, *, recorded: bool = False) -> None:
        await self.memory.record(turn, recorded=recorded)

    def _request(
        self,
        ctx: TurnContext,
        messages: tuple[ChatMessage, ...],
        deadline: Deadline,
        response_schema: dict[str, Any] | None = None,
    ) -> ChatRequest:
        return ChatRequest(
            messages=messages,
            context=ctx,
            deadline=deadline,
            max_tokens=self._config.max_tokens,
            temperature=self._config.temperature,
            response_schema=response_schema,
        )
