"""The chat provider port: what a turn asks a model, and the events of its answer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .models import DecisionOption, FinishReason, Scene, Session, Turn, TurnKind, Usage
    from .tap import Tap


@dataclass(frozen=True)
class Deadline:
    """When the caller stops waiting, on the `time.monotonic()` clock; None means never."""

    expires_at: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.monotonic() + seconds)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None when there is no deadline."""
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - time.monotonic())


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class TurnContext:
    """What a turn is about, in domain terms: the offline narrator reads this, not the prompt."""

    session: Session
    turn_id: str
    turn_index: int
    kind: TurnKind
    input: str
    scene: Scene
    options: tuple[DecisionOption, ...] = ()
    # The session's completed turns before this one, newest first (the planner's memory):
    # the offline narrator reads them to stay consistent and never repeat itself.
    recent: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class ChatRequest:
    """One request to a chat model: the prompt, its limits and the turn it serves."""

    messages: tuple[ChatMessage, ...]
    context: TurnContext
    deadline: Deadline
    max_tokens: int
    temperature: float
    # JSON schema the answer must follow (decisions); None for free prose.
    response_schema: dict[str, Any] | None = None
    # The text already sent when another provider must continue the turn mid-stream.
    continuation: str = ""
    # The turn's last chance: a provider that cannot fail (the offline narrator) should speak.
    last_chance: bool = False
    # Background work (a summary): low priority, and never answered by the offline narrator.
    background: bool = False
    # Where the provider may hand its text in a plain call instead of yielding it (`tap.py`).
    tap: Tap | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StreamOpened:
    """The provider is committed to this answer: who speaks, with which model."""

    provider: str
    model: str


@dataclass(frozen=True)
class TextChunk:
    """Raw text from the model, in order (JSON text when a response_schema was given)."""

    text: str


@dataclass(frozen=True)
class StreamFinished:
    """The model finished; usage covers every attempt the provider made for this request."""

    finish_reason: FinishReason
    usage: Usage


ChatEvent = StreamOpened | TextChunk | StreamFinished


class ChatProvider(Protocol):
    """A chat model that streams an answer.

    `stream` yields exactly one `StreamOpened` before any `TextChunk`, then ends with one
    `StreamFinished`. An `UpstreamError` raised before `StreamOpened` means the provider gave up
    without a word (its retries are its own business), so another provider may take over; one
    raised after it is a `StreamInterrupted`. Closing the iterator early must release the
    upstream request at once.

    A provider that reads its upstream in callbacks may offer each text to `request.tap`
    first, only while it waits for the upstream; text the tap took is not yielded.
    """

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]: ...
