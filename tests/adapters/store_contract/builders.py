"""Sessions and turns for the store contract; `full_turn` sets every field of `Turn`."""

from __future__ import annotations

import dataclasses
from typing import Any

from narrator_server.core.models import (
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

SCENE = Scene(
    "the flooded crypt",
    (Character("Grub", "a goblin chief", "hostile", "he/him"), Character("Mirela", "", "", "")),
    ("the door is locked", "the water is rising"),
    (("weather", "stormy"), ("health", "7/10")),
)


def session(session_id: str = "s1", **changes: Any) -> Session:
    base = Session(
        session_id=session_id,
        setting=Setting("a drowned city", "grim"),
        player=PlayerCharacter("Ash", "a disgraced knight"),
        seed=99,
        created_at=1_700_000_000.25,
        tenant="studio-a",
        content_rating=ContentRating.MATURE,
    )
    return dataclasses.replace(base, **changes)


def turn(
    turn_id: str,
    session_id: str = "s1",
    status: TurnStatus = TurnStatus.COMPLETED,
    at: float = 1_700_000_100.0,
    **changes: Any,
) -> Turn:
    base = Turn(
        turn_id=turn_id,
        session_id=session_id,
        kind=TurnKind.NARRATION,
        input=f"action of {turn_id}",
        scene=SCENE,
        text=f"narration of {turn_id}" if status is not TurnStatus.RUNNING else "",
        status=status,
        provider="openai",
        model="gpt-4o-mini",
        usage=Usage(10, 3),
        created_at=at,
    )
    return dataclasses.replace(base, **changes)


def full_turn(turn_id: str = "t-full", session_id: str = "s1") -> Turn:
    """A turn whose every field differs from its default, so a lost column shows."""
    return Turn(
        turn_id=turn_id,
        session_id=session_id,
        kind=TurnKind.DECISION,
        input="What does Grub do?",
        scene=SCENE,
        text='{"option_id":"attack"} Grub lunges.',
        status=TurnStatus.COMPLETED,
        provider="openai",
        model="gpt-4.1",
        usage=Usage(1234, 56, estimated=True, cached_input_tokens=1024),
        created_at=1_700_000_123.456789,
        decision=Decision("attack", '{"target":"Ash","damage":3}', DecisionSource.REPAIRED),
        finish_reason=FinishReason.LENGTH,
        recoveries=(
            Recovery("openai", "gpt-4.1", 3, RecoveryReason.STALLED),
            Recovery("offline", "narrator-offline-1", 7, RecoveryReason.TAKEOVER),
        ),
        delta_lengths=(4, 9, 1, 22),
        options=(
            DecisionOption("attack", "Grub attacks", '{"type":"object","properties":{}}'),
            DecisionOption("flee", "Grub flees", ""),
        ),
        default_option_id="flee",
        replaces_turn_id="t-earlier",
        superseded=True,
    )


def unset_fields(value: Any) -> list[str]:
    """Fields of a dataclass left at their default (a round-trip test must set them all)."""
    return [
        f.name
        for f in dataclasses.fields(value)
        if f.default is not dataclasses.MISSING and getattr(value, f.name) == f.default
    ]
