"""Rows of sessions and turns as plain tuples: one codec for every SQL adapter.

Column order is `SESSION_COLUMNS` / `TURN_COLUMNS`; structured values are JSON text.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import Any

from ..core.compact_json import dumps
from ..core.models import (
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

SESSION_COLUMNS = (
    "id, tenant, world, tone, player_name, player_description, seed, created_at, content_rating"
)
TURN_COLUMNS = (
    "id, session_id, kind, input, scene, text, status, provider, model, input_tokens,"
    " output_tokens, usage_estimated, cached_input_tokens, finish_reason, decision, created_at,"
    " recoveries, delta_lengths, options, default_option_id, replaces_turn_id, superseded"
)
TURN_COLUMN_COUNT = TURN_COLUMNS.count(",") + 1
# A turn as the memory recalls it: without the lengths of its deltas (what a replay needs,
# never a prompt), which for one-token chunks weigh more than the turn's text.
RECALLED_TURN_COLUMNS = TURN_COLUMNS.replace("delta_lengths", "'[]'")
# The upsert of a turn (same in SQLite and PostgreSQL): every column but the key.
TURN_UPDATE = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in TURN_COLUMNS.split(",")[2:])
_SURROGATE = re.compile("[\ud800-\udfff]")


def _dumps(value: Any) -> str:
    # ensure_ascii=False keeps the text readable; lone surrogates are escaped either way.
    return clean(dumps(value))


def scene_to_json(scene: Scene) -> str:
    return _dumps(
        {
            "location": scene.location,
            "characters": [
                [c.name, c.description, c.disposition, c.pronouns] for c in scene.characters
            ],
            "facts": list(scene.facts),
            "attributes": [list(kv) for kv in scene.attributes],
        }
    )


def scene_from_json(text: str) -> Scene:
    data = json.loads(text)
    return Scene(
        location=data["location"],
        characters=tuple(Character(*c) for c in data["characters"]),
        facts=tuple(data["facts"]),
        attributes=tuple((k, v) for k, v in data["attributes"]),
    )


def to_signed64(value: int) -> int:
    """SQL integers are signed 64-bit; seeds are unsigned (read back with `% 2**64`)."""
    return value - 2**64 if value >= 2**63 else value


def clean(text: str) -> str:
    """Text every SQL driver can encode: a lone surrogate (which a model's JSON escapes can
    produce) becomes U+FFFD instead of failing the write."""
    if text.isascii():
        return text
    try:
        text.encode()  # strict UTF-8 refuses exactly the lone surrogates, at C speed
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def session_row(session: Session) -> tuple[Any, ...]:
    s = session
    return (
        s.session_id, s.tenant, clean(s.setting.world), clean(s.setting.tone),
        clean(s.player.name), clean(s.player.description), to_signed64(s.seed), s.created_at,
        s.content_rating.value,
    )  # fmt: skip


def session_from_row(row: tuple[Any, ...], turn_count: int, recent: tuple[Turn, ...]) -> Session:
    return Session(
        session_id=row[0],
        tenant=row[1],
        setting=Setting(row[2], row[3]),
        player=PlayerCharacter(row[4], row[5]),
        seed=int(row[6]) % 2**64,
        created_at=float(row[7]),
        content_rating=ContentRating(row[8]),
        turn_count=turn_count,
        recent_turns=recent,
    )


def turn_row(turn: Turn) -> tuple[Any, ...]:
    t, d = turn, turn.decision
    return (
        t.turn_id, t.session_id, t.kind.value, clean(t.input), scene_to_json(t.scene),
        clean(t.text), t.status.value, t.provider, t.model, t.usage.input_tokens,
        t.usage.output_tokens, t.usage.estimated, t.usage.cached_input_tokens,
        t.finish_reason.value,
        _dumps([d.option_id, d.arguments_json, d.source.value]) if d else None,
        t.created_at,
        _dumps([[r.provider, r.model, r.after_seq, r.reason.value] for r in t.recoveries]),
        _dumps(list(t.delta_lengths)),
        _dumps([[o.id, o.description, o.arguments_schema] for o in t.options]),
        t.default_option_id, t.replaces_turn_id, t.superseded,
    )  # fmt: skip


def turn_from_row(r: tuple[Any, ...], scene: Scene | None = None) -> Turn:
    """The turn of a row; `scene`, when given, is the row's scene already decoded."""
    decision = None
    if r[14] is not None:
        option_id, arguments_json, source = json.loads(r[14])
        decision = Decision(option_id, arguments_json, DecisionSource(source))
    return Turn(
        turn_id=r[0],
        session_id=r[1],
        kind=TurnKind(r[2]),
        input=r[3],
        scene=scene if scene is not None else scene_from_json(r[4]),
        text=r[5],
        status=TurnStatus(r[6]),
        provider=r[7],
        model=r[8],
        usage=Usage(int(r[9]), int(r[10]), bool(r[11]), int(r[12])),
        finish_reason=FinishReason(r[13]),
        decision=decision,
        created_at=float(r[15]),
        recoveries=tuple(_recovery(*r) for r in json.loads(r[16])),
        delta_lengths=tuple(json.loads(r[17])),
        options=tuple(DecisionOption(*o) for o in json.loads(r[18])),
        default_option_id=r[19],
        replaces_turn_id=r[20],
        superseded=bool(r[21]),
    )


# Text columns whose values repeat from turn to turn (the session, the enums, the provider,
# empty JSON lists): `TurnRows` keeps one string of each value, not one a row. The scene
# (column 4) has its own table, with its decoded `Scene`.
_REPEATED = frozenset((1, 2, 6, 7, 8, 13, 16, 18, 19, 20))
_SCENE = 4


class TurnRows:
    """Turns decoded from their rows, remembered by the whole row: a turn's history is read
    again every turn, and decoding it again (JSON, enums, dataclasses) was most of the read.
    A row that changed in any column (here or on another server) is a new key, so nothing is
    ever stale; the least recently read rows go first past `size`. Turns are immutable, so
    one decoded turn is safely shared.

    Memory: the remembered rows share one string per repeated value and one decoded `Scene`
    per scene text (a session's scene seldom changes from turn to turn), about half of what
    a row and its turn took each. Both tables hold at most `size // 4` values, so what
    they alone keep alive stays small; past that, sharing is lost for a while, never
    correctness."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._turns: OrderedDict[tuple[Any, ...], Turn] = OrderedDict()
        self._values: dict[str, str] = {}
        self._scenes: OrderedDict[str, tuple[str, Scene]] = OrderedDict()
        self._shared_size = max(1, size // 4)

    def decode(self, row: tuple[Any, ...]) -> Turn:
        key = tuple(row)
        turn = self._turns.get(key)
        if turn is None:
            key, scene = self._shared(key)
            turn = self._turns[key] = turn_from_row(key, scene)
            if len(self._turns) > self._size:
                self._turns.popitem(last=False)
        else:
            self._turns.move_to_end(key)
        return turn

    def fresh(self, row: tuple[Any, ...]) -> Turn:
        """The row's turn, decoded now and not remembered by row (for a cache of its own,
        such as `sqlite_recent.RecentTurns`), sharing values and scenes as `decode` does."""
        return turn_from_row(*self._shared(tuple(row)))

    def _shared(self, row: tuple[Any, ...]) -> tuple[tuple[Any, ...], Scene]:
        """The row with its repeated values and scene text replaced by the shared ones, and
        the decoded scene."""
        values = self._values
        if len(values) > self._shared_size:
            values.clear()
        text, scene = self._scene(row[_SCENE])
        shared = tuple(
            text if i == _SCENE else values.setdefault(v, v) if i in _REPEATED else v
            for i, v in enumerate(row)
        )
        return shared, scene

    def _scene(self, text: str) -> tuple[str, Scene]:
        found = self._scenes.get(text)
        if found is None:
            found = self._scenes[text] = (text, scene_from_json(text))
            if len(self._scenes) > self._shared_size:
                self._scenes.popitem(last=False)
        else:
            self._scenes.move_to_end(text)
        return found


def _recovery(provider: str, model: str, after_seq: int, reason: str = "unspecified") -> Recovery:
    return Recovery(provider, model, int(after_seq), RecoveryReason(reason))
