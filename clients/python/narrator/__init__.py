"""Python client of the Narrator service: `NarratorClient` and its typed turn events."""

from .client import NarratorClient, character, scene
from .errors import FieldViolation, NarratorError, QuotaViolation
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
    "QuotaViolation",
    "Recovery",
    "TextDelta",
    "TurnCompleted",
    "TurnResult",
    "TurnStarted",
    "character",
    "scene",
]
