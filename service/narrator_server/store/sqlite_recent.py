"""A session's recent completed turns, read in two small steps instead of one row at a time.

Every turn reads the last ~54 completed turns of its session. Fetching them as rows costs a
step (and a hand-over of the GIL between the store's thread and the event loop) per row and a
Python tuple of every column; most of them were decoded the turn before. Here one query
returns the window's keys as a single JSON value, and only the turns not already known are
fetched and decoded. A key holds the row's identity and what an overwrite of a completed turn
would change (its rowid, text length, token counts and start time), so a turn rewritten by
another producer is read again; superseded turns leave the window by the query itself.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..core.models import TurnStatus
from .codec import RECALLED_TURN_COLUMNS

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    from ..core.models import Turn

CURRENT = f"status = '{TurnStatus.COMPLETED.value}' AND superseded = 0"
_KEYS = (
    "SELECT json_group_array(json_array(place, rowid, id, length(text), input_tokens,"
    " output_tokens, created_at)) FROM (SELECT row_number() OVER (ORDER BY created_at DESC,"
    " rowid DESC) AS place, rowid, id, text, input_tokens, output_tokens, created_at"
    f" FROM turns WHERE session_id = ? AND {CURRENT}"
    " ORDER BY created_at DESC, rowid DESC LIMIT ?)"
)
_ROWS = f"SELECT rowid, {RECALLED_TURN_COLUMNS} FROM turns WHERE rowid IN ({{}})"


class RecentTurns:
    """The decoded turns of sessions' windows, by key; the least recently used go first once
    their texts pass `budget` characters (about that many bytes: a memory budget, whatever
    the turns' length). Used on the store's worker thread only."""

    def __init__(self, budget: int = 1_000_000) -> None:
        self._budget = budget
        self._chars = 0
        self._known: OrderedDict[tuple[Any, ...], Turn] = OrderedDict()

    def read(
        self,
        db: sqlite3.Connection,
        session_id: str,
        limit: int,
        decode: Callable[[tuple[Any, ...]], Turn],
    ) -> list[Turn]:
        """Up to `limit` completed, current turns of the session, newest first (call inside
        the read's transaction)."""
        listed = db.execute(_KEYS, (session_id, limit)).fetchone()[0]
        # The aggregate's order is not promised: each key says its place in the window.
        keys = [(session_id, *k[1:]) for k in sorted(json.loads(listed))]
        known = self._known
        missing = [k[1] for k in keys if k not in known]
        if missing:
            marks = ",".join("?" * len(missing))
            fetched = {r[0]: r[1:] for r in db.execute(_ROWS.format(marks), missing)}
            for key in keys:
                row = fetched.get(key[1])
                if key not in known and row is not None:
                    fresh = known[key] = decode(row)
                    self._chars += _weight(fresh)
        turns = []
        for key in keys:
            turn = known.get(key)
            if turn is None:  # gone between the two reads: not possible in one transaction
                continue
            known.move_to_end(key)
            turns.append(turn)
        while self._chars > self._budget and known:
            self._chars -= _weight(known.popitem(last=False)[1])
        return turns


def _weight(turn: Turn) -> int:
    return len(turn.text) + len(turn.input) + 200  # and the objects around them
