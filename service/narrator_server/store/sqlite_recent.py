"""A session's recent completed turns, kept decoded between its turns and checked in one read.

Every turn reads the last ~54 completed, current turns of its session. The session's row
carries `window_version`, which the schema's triggers bump whenever a turn enters that set,
leaves it or changes in it (a completed turn inserted; an update of a row that was or becomes
completed, superseding included; a completed turn deleted). A read whose session row shows
the version of the window kept here takes that window as it is, without a query of the turns.
Otherwise one query lists the window's keys as a single JSON value (fetching rows one at a time
costs a GIL hand-over a row) and only the turns not already decoded are fetched. A turn this
server saves enters its kept window inside the save's own transaction (`saved`), so the next
turn's read finds the window current instead of listing it again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.models import TurnStatus
from .codec import RECALLED_TURN_COLUMNS, TURN_COLUMNS

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    from ..core.models import Turn

_COMPLETED = TurnStatus.COMPLETED.value
CURRENT = f"status = '{_COMPLETED}' AND superseded = 0"
_KEYS = (
    "SELECT json_group_array(json_array(place, rowid, id, length(text), input_tokens,"
    " output_tokens, created_at)) FROM (SELECT row_number() OVER (ORDER BY created_at DESC,"
    " rowid DESC) AS place, rowid, id, text, input_tokens, output_tokens, created_at"
    f" FROM turns WHERE session_id = ? AND {CURRENT}"
    " ORDER BY created_at DESC, rowid DESC LIMIT ?)"
)
_ROWS = f"SELECT rowid, {RECALLED_TURN_COLUMNS} FROM turns WHERE rowid IN ({{}})"
# Where a row's columns are; the memory's turns go without delta lengths (`RECALLED_TURN_COLUMNS`).
_COLUMNS = [c.strip() for c in TURN_COLUMNS.split(",")]
_ID, _SESSION, _LENGTHS = (_COLUMNS.index(c) for c in ("id", "session_id", "delta_lengths"))

# The schema's part (SQLite migration 6): the version the kept windows are checked against.
WINDOW_TRIGGERS = f"""
CREATE TRIGGER window_entered AFTER INSERT ON turns WHEN NEW.status = '{_COMPLETED}' BEGIN
    UPDATE sessions SET window_version = window_version + 1 WHERE id = NEW.session_id;
END;
CREATE TRIGGER window_changed AFTER UPDATE ON turns
WHEN OLD.status = '{_COMPLETED}' OR NEW.status = '{_COMPLETED}' BEGIN
    UPDATE sessions SET window_version = window_version + 1
    WHERE id IN (OLD.session_id, NEW.session_id);
END;
CREATE TRIGGER window_left AFTER DELETE ON turns WHEN OLD.status = '{_COMPLETED}' BEGIN
    UPDATE sessions SET window_version = window_version + 1 WHERE id = OLD.session_id;
END;
"""


@dataclass(frozen=True)
class _Window:
    version: int
    limit: int
    keys: tuple[tuple[Any, ...], ...]  # newest first, like `turns`
    turns: tuple[Turn, ...]
    chars: int


class RecentTurns:
    """Sessions' windows of decoded turns; the least recently read go first once their texts
    pass `budget` characters (about that many bytes: a memory budget, whatever the turns'
    length). Used on the store's worker thread only."""

    def __init__(self, budget: int = 1_000_000) -> None:
        self._budget = budget
        self._chars = 0
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def read(
        self,
        db: sqlite3.Connection,
        session_id: str,
        limit: int,
        version: int,
        decode: Callable[[tuple[Any, ...]], Turn],
    ) -> list[Turn]:
        """Up to `limit` completed, current turns of the session, newest first (call inside
        the read's transaction, with the `window_version` its session row holds)."""
        kept = self._windows.get(session_id)
        if kept is not None and kept.version == version and kept.limit == limit:
            self._windows.move_to_end(session_id)
            return list(kept.turns)
        listed = db.execute(_KEYS, (session_id, limit)).fetchone()[0]
        # The aggregate's order is not promised: each key says its place in the window.
        keys = [(session_id, *k[1:]) for k in sorted(json.loads(listed))]
        known = dict(zip(kept.keys, kept.turns, strict=True)) if kept is not None else {}
        missing = [k[1] for k in keys if k not in known]
        if missing:
            by_rowid = {k[1]: k for k in keys}
            marks = ",".join("?" * len(missing))
            for row in db.execute(_ROWS.format(marks), missing).fetchall():
                known[by_rowid[row[0]]] = decode(row[1:])
        present = tuple(k for k in keys if k in known)
        turns = tuple(known[k] for k in present)
        chars = sum(_weight(turn) for turn in turns)
        self._keep(session_id, _Window(version, limit, present, turns, chars))
        return list(turns)

    def saved(
        self, row: tuple[Any, ...], rowid: int, decode: Callable[[tuple[Any, ...]], Turn]
    ) -> None:
        """A completed turn was just written and committed as `row` (`codec.turn_row`, in the
        columns of `TURN_COLUMNS`) at `rowid`: it enters its session's kept window, which
        stays current.
        That one write bumped the window's version by one (a trigger); any other write since
        the window was read bumped it too, so the next read finds the kept version behind and
        lists the window again."""
        session_id, turn_id = row[_SESSION], row[_ID]
        kept = self._windows.get(session_id)
        if kept is None:
            return
        saved = decode((*row[:_LENGTHS], "[]", *row[_LENGTHS + 1 :]))
        if saved.superseded:
            self.forget(session_id)
            return
        created_at, usage = saved.created_at, saved.usage
        # The key as the listing will show it, so that a later listing reuses this turn:
        # SQLite's JSON writes a REAL with 15 significant digits.
        key = (session_id, rowid, turn_id, len(saved.text), usage.input_tokens,
               usage.output_tokens, float(f"{created_at:.15g}"))  # fmt: skip
        keys, turns, chars = list(kept.keys), list(kept.turns), kept.chars
        for i, old in enumerate(turns):
            if old.turn_id == turn_id:  # written over: its place may change
                chars -= _weight(old)
                del keys[i], turns[i]
                break
        # Newest first, as the listing orders them: mostly at the front.
        place = 0
        while place < len(turns) and (turns[place].created_at, keys[place][1]) > (
            created_at,
            rowid,
        ):
            place += 1
        keys.insert(place, key)
        turns.insert(place, saved)
        chars += _weight(saved)
        while len(turns) > kept.limit:
            keys.pop()
            chars -= _weight(turns.pop())
        window = _Window(kept.version + 1, kept.limit, tuple(keys), tuple(turns), chars)
        self._keep(session_id, window)

    def forget(self, session_id: str) -> None:
        """Drops the session's kept window (its next read lists the turns again)."""
        kept = self._windows.pop(session_id, None)
        if kept is not None:
            self._chars -= kept.chars

    def _keep(self, session_id: str, window: _Window) -> None:
        self.forget(session_id)
        self._windows[session_id] = window
        self._chars += window.chars
        while self._chars > self._budget and self._windows:
            self.forget(next(iter(self._windows)))


def _weight(turn: Turn) -> int:
    return len(turn.text) + len(turn.input) + 200  # and the objects around them
