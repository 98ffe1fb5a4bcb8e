"""Prompt building: memory within the budget, player text in user messages only."""

from __future__ import annotations

from narrator_server.core import prompt
from narrator_server.core.models import (
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    Turn,
    TurnKind,
    TurnStatus,
    Usage,
)


def turn(i: int) -> Turn:
    return Turn(
        f"t{i}", "s", TurnKind.NARRATION, f"action {i}", Scene(), f"narration {i} " * 20,
        TurnStatus.COMPLETED, "p", "m", Usage(), float(i),
    )  # fmt: skip


def test_history_keeps_the_newest_turns_that_fit_oldest_first() -> None:
    newest_first = [turn(i) for i in range(9, -1, -1)]
    one_pair = prompt.estimate_tokens("Player action: action 9") + prompt.estimate_tokens(
        newest_first[0].text
    )
    messages = prompt.fit_history(newest_first, budget_tokens=one_pair * 3)
    assert [m.content for m in messages if m.role == "user"] == [
        "Player action: action 7",
        "Player action: action 8",
        "Player action: action 9",
    ]
    assert prompt.fit_history(newest_first, budget_tokens=0) == []


def test_player_text_is_only_in_user_messages() -> None:
    session = Session("s", Setting("WORLDX", "grim"), PlayerCharacter("NAMEX", "DESCX"), 1, 0.0)
    messages = prompt.narration_messages(session, [], Scene(location="LOCX"), "ACTIONX")
    assert messages[0].role == "system"
    for marker in ("WORLDX", "NAMEX", "DESCX", "LOCX", "ACTIONX"):
        assert marker not in messages[0].content
        assert any(marker in m.content for m in messages if m.role == "user")
