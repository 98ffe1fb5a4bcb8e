"""A stored turn's stream again, with the same deltas and seq: no model request, no tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import TurnAborted
from .models import DecisionMade, TextDelta, TurnCompleted, TurnStarted, TurnStatus

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .models import Turn, TurnEvent

_ENDED = {
    TurnStatus.CANCELLED: "was cancelled before it completed",
    TurnStatus.FAILED: "failed before it completed",
    TurnStatus.INTERRUPTED: "was interrupted: the server running it stopped before it ended",
}


async def replay(turn: Turn, after_seq: int, *, started: bool = False) -> AsyncGenerator[TurnEvent]:
    """TurnStarted (unless the follower `started` already), the deltas after `after_seq`, then
    the decision and completion; ABORTED for a turn that did not complete."""
    if not started:
        yield TurnStarted(turn.turn_id, turn.provider, turn.model, resumed=True)
    position = 0
    for seq, length in enumerate(turn.delta_lengths, start=1):
        piece = turn.text[position : position + length]
        position += length
        if seq > after_seq:
            yield TextDelta(seq, piece)
    if turn.status is not TurnStatus.COMPLETED:
        why = _ENDED.get(turn.status, "did not complete")
        raise TurnAborted(f"turn {turn.turn_id!r} {why}; start a new turn with a new turn_id")
    if turn.decision is not None:
        yield DecisionMade(turn.decision)
    yield TurnCompleted(turn.finish_reason, turn.usage, turn.text, turn.recoveries)
