"""Plain data of the domain: sessions, scenes, turns, decisions and the events of a turn."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True)
class KeyLimits:
    """The quotas of one API key; 0 means unlimited."""

    requests_per_minute: int = 0
    tokens_per_minute: int = 0  # output tokens
    tokens_per_day: int = 0  # input + output tokens, per UTC day
    player_requests_per_minute: int = 0  # for each player the key acts for

    @property
    def any(self) -> bool:
        return any(
            (
                self.requests_per_minute,
                self.tokens_per_minute,
                self.tokens_per_day,
                self.player_requests_per_minute,
            )
        )


NO_LIMITS = KeyLimits()


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the API authenticated them: the core decides what they may touch.

    `tenant` owns sessions ("" is the open, keyless mode); `key_id` names the API key (for
    quotas and audit, never the secret); `player` is the game's player the backend acts for
    (per-player quotas), "" when the backend did not say; `limits` are the key's quotas.
    """

    tenant: str = ""
    key_id: str = ""
    player: str = ""
    limits: KeyLimits = NO_LIMITS


LOCAL = Caller()


class ContentRating(enum.Enum):
    EVERYONE = "everyone"
    TEEN = "teen"
    MATURE = "mature"


@dataclass(frozen=True)
class Setting:
    world: str
    tone: str = ""


@dataclass(frozen=True)
class PlayerCharacter:
    name: str
    description: str = ""


@dataclass(frozen=True)
class Character:
    name: str
    description: str = ""
    disposition: str = ""
    pronouns: str = ""


@dataclass(frozen=True)
class Scene:
    location: str = ""
    characters: tuple[Character, ...] = ()
    facts: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    # The upstream sent no usage: the counts are the server's estimate.
    estimated: bool = False
    cached_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
            self.cached_input_tokens + other.cached_input_tokens,
        )


class TurnKind(enum.Enum):
    NARRATION = "narration"
    DECISION = "decision"


class TurnStatus(enum.Enum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    RUNNING = "running"  # claimed when it started; not ended yet
    INTERRUPTED = "interrupted"  # its server stopped abruptly and nobody took it over

    @property
    def ended(self) -> bool:
        return self is not TurnStatus.RUNNING


class RecoveryReason(enum.Enum):
    UNSPECIFIED = "unspecified"
    UPSTREAM_FAILED = "upstream_failed"
    STALLED = "stalled"
    TAKEOVER = "takeover"
    LAST_CHANCE = "last_chance"


class FinishReason(enum.Enum):
    UNSPECIFIED = "unspecified"
    STOP = "stop"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"


class DecisionSource(enum.Enum):
    MODEL = "model"
    REPAIRED = "repaired"
    FALLBACK = "fallback"


@dataclass(frozen=True)
class DecisionOption:
    id: str
    description: str = ""
    arguments_schema: str = ""


@dataclass(frozen=True)
class Decision:
    option_id: str
    arguments_json: str
    source: DecisionSource


@dataclass(frozen=True)
class Recovery:
    """A mid-stream takeover: who continued the turn, after which seq."""

    provider: str
    model: str
    after_seq: int
    reason: RecoveryReason = RecoveryReason.UNSPECIFIED


@dataclass(frozen=True)
class Turn:
    turn_id: str
    session_id: str
    kind: TurnKind
    input: str
    scene: Scene
    text: str
    status: TurnStatus
    provider: str
    model: str
    usage: Usage
    created_at: float
    decision: Decision | None = None
    finish_reason: FinishReason = FinishReason.UNSPECIFIED
    recoveries: tuple[Recovery, ...] = ()
    # Length of each delta, in order: a replay sends the same deltas with the same seq.
    delta_lengths: tuple[int, ...] = ()
    # Decide turns: the options and the default, so that another server can take it over.
    options: tuple[DecisionOption, ...] = ()
    default_option_id: str = ""
    # Regenerations: this turn replaced `replaces_turn_id`; a superseded turn was replaced.
    replaces_turn_id: str = ""
    superseded: bool = False


@dataclass(frozen=True)
class Session:
    session_id: str
    setting: Setting
    player: PlayerCharacter
    seed: int
    created_at: float
    turn_count: int = 0
    recent_turns: tuple[Turn, ...] = field(default=())
    tenant: str = ""
    content_rating: ContentRating = ContentRating.TEEN


# Events of a streamed turn, in the order the core yields them.


@dataclass(frozen=True)
class TurnStarted:
    turn_id: str
    provider: str
    model: str
    resumed: bool = False


@dataclass(frozen=True)
class TextDelta:
    seq: int
    text: str


@dataclass(frozen=True)
class DecisionMade:
    decision: Decision


@dataclass(frozen=True)
class TurnCompleted:
    finish_reason: FinishReason
    usage: Usage
    text: str
    recoveries: tuple[Recovery, ...] = ()


@dataclass(frozen=True)
class TurnEnded:
    """A turn ended without completing (for watchers; a caller gets the error itself)."""

    status: TurnStatus
    reason: str


TurnEvent = TurnStarted | TextDelta | DecisionMade | TurnCompleted
