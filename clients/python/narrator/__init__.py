"""Python client of the Narrator service: `NarratorClient` and its typed turn events."""

from .client import NarratorClient, character, scene
from .errors import FieldViolation, NarratorError
from .events import (
    DecisionMade,
    Event,
    Recovery,
    TextDelta,
    TurnCompleted,
    TurnResult,
    TurnStarted,
)

__all__ = [
    "DecisionMade",
    "Event",
    "FieldViolation",
    "NarratorClient",
    "NarratorError",
    "Recovery",
    "TextDelta",
    "TurnCompleted",
    "TurnResult",
    "TurnStarted",
    "character",
    "scene",
]
