"""Typed events of a streamed turn, decoded from the protobuf messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from narrator.v1 import turn_pb2

if TYPE_CHECKING:
    from narrator.v1 import narrator_service_pb2 as pb


@dataclass(frozen=True)
class TurnStarted:
    """First event: the turn's id and who is speaking (an upstream name or "offline");
    `resumed` when this stream joined or replayed an existing turn."""

    turn_id: str
    provider: str
    model: str
    resumed: bool = False


@dataclass(frozen=True)
class TextDelta:
    """The next piece of text; `seq` counts 1, 2, 3 ... without gaps."""

    seq: int
    text: str


@dataclass(frozen=True)
class DecisionMade:
    """The decision (Decide only): an allowed option id and schema-valid arguments."""

    option_id: str
    arguments: dict[str, Any]
    source: str  # "model", "repaired" or "fallback"


@dataclass(frozen=True)
class Recovery:
    """Another provider continued the turn after `after_seq`."""

    provider: str
    model: str
    after_seq: int


@dataclass(frozen=True)
class TurnCompleted:
    """Last event: why the text ended, token usage, the whole text, and any mid-stream
    takeovers."""

    finish_reason: str  # "stop", "length", "content_filter" or "unspecified"
    input_tokens: int
    output_tokens: int
    text: str
    recoveries: tuple[Recovery, ...] = ()


Event = TurnStarted | TextDelta | DecisionMade | TurnCompleted


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def decode(message: pb.NarrateResponse | pb.DecideResponse) -> Event | None:
    """The event in a response message; None for a kind this client does not know (a newer
    server's event), which the caller skips: old clients keep working as the API grows."""
    kind = message.WhichOneof("event")
    if kind == "delta":
        return TextDelta(message.delta.seq, message.delta.text)
    if kind == "started":
        s = message.started
        return TurnStarted(s.turn_id, s.provider, s.model, s.resumed)
    if kind == "completed":
        c = message.completed
        reason = _enum_name(turn_pb2.FinishReason, c.finish_reason, "FINISH_REASON_")
        recoveries = tuple(Recovery(r.provider, r.model, r.after_seq) for r in c.recoveries)
        usage = c.usage
        return TurnCompleted(reason, usage.input_tokens, usage.output_tokens, c.text, recoveries)
    if kind == "decision":
        d = message.decision  # type: ignore[union-attr]
        source = _enum_name(turn_pb2.DecisionSource, d.source, "DECISION_SOURCE_")
        return DecisionMade(d.option_id, json.loads(d.arguments_json or "{}"), source)
    return None


@dataclass
class TurnResult:
    """A whole turn, gathered from its events (see `NarratorClient.collect`)."""

    started: TurnStarted | None = None
    deltas: list[TextDelta] = field(default_factory=list)
    decision: DecisionMade | None = None
    completed: TurnCompleted | None = None

    @property
    def text(self) -> str:
        return "".join(d.text for d in self.deltas)

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            if self.deltas and event.seq != self.deltas[-1].seq + 1:
                raise ValueError(f"delta seq {event.seq} after {len(self.deltas)}: data was lost")
            self.deltas.append(event)
        elif isinstance(event, TurnStarted):
            self.started = event
        elif isinstance(event, DecisionMade):
            self.decision = event
        else:
            self.completed = event
