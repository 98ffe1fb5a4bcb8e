"""The save-game document (format "narrator.session", version 1): its shape, and the mapping to
and from the domain. The shape is checked strictly (types, unknown fields refused); the
limits of every value are checked by `savegame.check` with the same rules as requests.
Documented in docs/memory.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .memory_models import LoreEntry, SavedSession, Summary, SummarySource
from .models import (
    Character,
    ContentRating,
    Decision,
    DecisionOption,
    DecisionSource,
    FinishReason,
    PlayerCharacter,
    Recovery,
    RecoveryReason,
    Scene,
    Session,
    Setting,
    Turn,
    TurnKind,
    TurnStatus,
    Usage,
)

FORMAT = "narrator.session"
VERSION = 1
Count = Annotated[int, Field(ge=0, le=10**12)]
Time = Annotated[float, Field(ge=0, le=10**11, allow_inf_nan=False)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DocCharacter(_Shape):
    name: str
    description: str = ""
    disposition: str = ""
    pronouns: str = ""


class DocScene(_Shape):
    location: str = ""
    characters: list[DocCharacter] = Field(default_factory=list, max_length=1000)
    facts: list[str] = Field(default_factory=list, max_length=1000)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=1000)


class DocUsage(_Shape):
    input_tokens: Count = 0
    output_tokens: Count = 0
    estimated: bool = False
    cached_input_tokens: Count = 0


class DocDecision(_Shape):
    option_id: str
    arguments_json: str
    source: Literal["model", "repaired", "fallback"]


class DocRecovery(_Shape):
    provider: str
    model: str
    after_seq: Count
    reason: Literal["unspecified", "upstream_failed", "stalled", "takeover", "last_chance"]


class DocOption(_Shape):
    id: str
    description: str = ""
    arguments_schema: str = ""


class DocTurn(_Shape):
    turn_id: str
    kind: Literal["narration", "decision"]
    input: str
    scene: DocScene = Field(default_factory=DocScene)
    text: str = ""
    status: Literal["completed", "cancelled", "failed", "running", "interrupted"]
    provider: str = ""
    model: str = ""
    usage: DocUsage = Field(default_factory=DocUsage)
    created_at: Time
    decision: DocDecision | None = None
    finish_reason: Literal["unspecified", "stop", "length", "content_filter"] = "unspecified"
    recoveries: list[DocRecovery] = Field(default_factory=list, max_length=100)
    delta_lengths: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    options: list[DocOption] = Field(default_factory=list, max_length=1000)
    default_option_id: str = ""
    replaces_turn_id: str = ""
    superseded: bool = False


class DocLore(_Shape):
    entry_id: str
    keys: list[str] = Field(default_factory=list, max_length=1000)
    content: str
    priority: int = 0
    always_on: bool = False
    updated_at: Time = 0.0


class DocSummary(_Shape):
    text: str
    first_turn_id: str
    last_turn_id: str
    through: Time
    turn_count: Count
    source: Literal["model", "offline"]
    created_at: Time


class DocSetting(_Shape):
    world: str
    tone: str = ""


class DocPlayer(_Shape):
    name: str
    description: str = ""


class DocSession(_Shape):
    setting: DocSetting
    player: DocPlayer
    # A decimal string: 64-bit seeds do not survive JSON numbers in every language.
    seed: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,19}$")]
    content_rating: Literal["everyone", "teen", "mature"] = "teen"
    created_at: Time


class Document(_Shape):
    format: Literal["narrator.session"]
    version: Literal[1]
    session: DocSession
    turns: list[DocTurn] = Field(default_factory=list)
    lore: list[DocLore] = Field(default_factory=list)
    summaries: list[DocSummary] = Field(default_factory=list)


def to_document(saved: SavedSession) -> Document:
    s = saved.session
    return Document(
        format="narrator.session",
        version=1,
        session=DocSession(
            setting=DocSetting(world=s.setting.world, tone=s.setting.tone),
            player=DocPlayer(name=s.player.name, description=s.player.description),
            seed=str(s.seed),
            content_rating=s.content_rating.value,
            created_at=s.created_at,
        ),
        turns=[_doc_turn(t) for t in saved.turns],
        lore=[
            DocLore(
                entry_id=e.entry_id,
                keys=list(e.keys),
                content=e.content,
                priority=e.priority,
                always_on=e.always_on,
                updated_at=e.updated_at,
            )
            for e in saved.lore
        ],
        summaries=[
            DocSummary(
                text=x.text,
                first_turn_id=x.first_turn_id,
                last_turn_id=x.last_turn_id,
                through=x.through,
                turn_count=x.turn_count,
                source=x.source.value,
                created_at=x.created_at,
            )
            for x in saved.summaries
        ],
    )


def _doc_turn(t: Turn) -> DocTurn:
    d = t.decision
    return DocTurn(
        turn_id=t.turn_id,
        kind=t.kind.value,
        input=t.input,
        scene=DocScene(
            location=t.scene.location,
            characters=[
                DocCharacter(
                    name=c.name,
                    description=c.description,
                    disposition=c.disposition,
                    pronouns=c.pronouns,
                )
                for c in t.scene.characters
            ],
            facts=list(t.scene.facts),
            attributes=dict(t.scene.attributes),
        ),
        text=t.text,
        status=t.status.value,
        provider=t.provider,
        model=t.model,
        usage=DocUsage(
            input_tokens=t.usage.input_tokens,
            output_tokens=t.usage.output_tokens,
            estimated=t.usage.estimated,
            cached_input_tokens=t.usage.cached_input_tokens,
        ),
        created_at=t.created_at,
        decision=DocDecision(
            option_id=d.option_id, arguments_json=d.arguments_json, source=d.source.value
        )
        if d
        else None,
        finish_reason=t.finish_reason.value,
        recoveries=[
            DocRecovery(
                provider=r.provider, model=r.model, after_seq=r.after_seq, reason=r.reason.value
            )
            for r in t.recoveries
        ],
        delta_lengths=list(t.delta_lengths),
        options=[
            DocOption(id=o.id, description=o.description, arguments_schema=o.arguments_schema)
            for o in t.options
        ],
        default_option_id=t.default_option_id,
        replaces_turn_id=t.replaces_turn_id,
        superseded=t.superseded,
    )


def from_document(doc: Document, session_id: str, tenant: str, now: float) -> SavedSession:
    """The domain records of a checked document, as a new session of `tenant`. A turn that
    was running when exported is interrupted: no server runs it any more."""
    s = doc.session
    session = Session(
        session_id=session_id,
        setting=Setting(s.setting.world, s.setting.tone),
        player=PlayerCharacter(s.player.name, s.player.description),
        seed=int(s.seed),
        created_at=now,
        tenant=tenant,
        content_rating=ContentRating(s.content_rating),
    )
    turns = tuple(_turn(t, session_id) for t in doc.turns)
    lore = tuple(lore_of(e) for e in doc.lore)
    summaries = tuple(
        Summary(
            x.text,
            x.first_turn_id,
            x.last_turn_id,
            x.through,
            x.turn_count,
            SummarySource(x.source),
            x.created_at,
        )
        for x in doc.summaries
    )
    return SavedSession(session, turns, lore, summaries)


def scene_of(s: DocScene) -> Scene:
    return Scene(
        location=s.location,
        characters=tuple(
            Character(c.name, c.description, c.disposition, c.pronouns) for c in s.characters
        ),
        facts=tuple(s.facts),
        attributes=tuple(sorted(s.attributes.items())),
    )


def lore_of(e: DocLore) -> LoreEntry:
    return LoreEntry(e.entry_id, tuple(e.keys), e.content, e.priority, e.always_on, e.updated_at)


def _turn(t: DocTurn, session_id: str) -> Turn:
    status = TurnStatus(t.status)
    d = t.decision
    return Turn(
        turn_id=t.turn_id,
        session_id=session_id,
        kind=TurnKind(t.kind),
        input=t.input,
        scene=scene_of(t.scene),
        text=t.text,
        status=TurnStatus.INTERRUPTED if status is TurnStatus.RUNNING else status,
        provider=t.provider,
        model=t.model,
        usage=Usage(
            t.usage.input_tokens,
            t.usage.output_tokens,
            t.usage.estimated,
            t.usage.cached_input_tokens,
        ),
        created_at=t.created_at,
        decision=Decision(d.option_id, d.arguments_json, DecisionSource(d.source)) if d else None,
        finish_reason=FinishReason(t.finish_reason),
        recoveries=tuple(
            Recovery(r.provider, r.model, r.after_seq, RecoveryReason(r.reason))
            for r in t.recoveries
        ),
        delta_lengths=tuple(t.delta_lengths),
        options=tuple(DecisionOption(o.id, o.description, o.arguments_schema) for o in t.options),
        default_option_id=t.default_option_id,
        replaces_turn_id=t.replaces_turn_id,
        superseded=t.superseded,
    )
