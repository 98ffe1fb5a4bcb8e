"""What the narrator remembers, derived only from the stored turns (so a restart or an
import reads the same): the sentences said lately, how long the player has been here, and
what their actions did while here (a gate opened stays open; a character who fled is gone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ...core.models import TurnKind
from . import action as actions
from .compose import draw, keys_of

if TYPE_CHECKING:
    from ...core.models import Turn
    from ...core.ports import TurnContext
    from .action import Action
    from .people import Person

# Sentences of this many recent turns are never said again; older ones only if need be.
NO_REPEAT_TURNS = 10
STALE_TURNS = 50
# How far back the narrator reads what happened in this place, and for callbacks.
PLACE_LIMIT = 20
CALLBACK_LIMIT = 30
_LEAVE = re.compile(r"\b(?:flee|flees|run|runs|retreat|leave|leaves|escape|vanish|withdraw)")
_IN_THE_WAY = re.compile(r"(?i)\b(?:block|bar|seal|lock|shut|closed|guard|chain|stuck|in the way)")
_WORD = re.compile(r"[a-z]+")
_SUCCESS_ODDS = {"look": 0.5, "listen": 0.5, "rest": 0.55, "talk": 0.55, "move": 0.5}
_PARTIAL_ODDS = 0.3
# Kinds whose success changes the thing they act on.
CHANGING = {"force": "open", "take": "taken", "attack": "struck", "use": "used"}


def fate(seed: int, location: str, act: Action, attempt: int) -> str:
    """How an action turns out: a pure function of the session, place, input and attempt."""
    r = draw(seed, "fate", location, act.raw.strip().lower(), attempt)
    success = _SUCCESS_ODDS.get(act.kind, 0.42)
    if r < success:
        return "success"
    return "partial" if r < success + _PARTIAL_ODDS else "complication"


@dataclass
class Past:
    """An earlier turn: how many turns ago, what the player did, how it went."""

    ago: int
    action: Action
    fate: str


@dataclass
class Memory:
    banned: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)
    # Turns already spent here in this visit (0: the player just arrived), and what the
    # player did in them, oldest first.
    turns_here: int = 0
    stay: list[Past] = field(default_factory=list)
    # Here before, then elsewhere: the last thing done here then.
    returning: Past | None = None
    visited: bool = False
    # What the player's actions changed here: head noun -> 'open', 'taken', ...
    changed: dict[str, str] = field(default_factory=dict)
    # Things acted on by another narrator: their facts are not restated while here.
    touched: set[str] = field(default_factory=set)
    attempts: dict[str, int] = field(default_factory=dict)
    lit: bool = False
    gone: set[str] = field(default_factory=set)
    hurt: set[str] = field(default_factory=set)
    gifted: set[str] = field(default_factory=set)

    # Words of facts that say something is in the way ('a rusted gate blocks the way').
    obstacles: set[str] = field(default_factory=set)

    def settle(
        self, seed: int, location: str, act: Action, by_offline: bool = True
    ) -> tuple[Action, str]:
        """The fate of `act` here, given what happened before, and the action as it counts
        (walking through a gate still in the way is forcing it); records what it changes."""
        head = act.thing.head if act.thing else act.raw.strip().lower()[:40]
        if act.kind == "move" and head in self.obstacles and head not in self.changed:
            act = replace(act, kind="force")
        if CHANGING.get(act.kind) in ("open", "taken") and self.changed.get(head) in (
            "open",
            "taken",
        ):
            return act, "already"
        if not by_offline:
            if act.thing:
                self.touched.add(act.thing.head)
            return act, "unknown"
        attempt = self.attempts.get(head, 0)
        result = fate(seed, location, act, attempt)
        if result == "success":
            if act.kind in CHANGING and act.thing:
                self.changed[act.thing.head] = CHANGING[act.kind]
            if act.verb in ("light", "ignite", "kindle"):
                self.lit = True
            if act.kind == "attack" and act.target:
                self.hurt.add(act.target.name)
            if act.kind == "give" and act.target:
                self.gifted.add(act.target.name)
        else:
            self.attempts[head] = attempt + 1
        return act, result


def _decision_leaves(turn: Turn, people: tuple[Person, ...]) -> str:
    """The name of who left, when a decision chose an option that makes them leave."""
    if turn.decision is None:
        return ""
    chosen = next((o for o in turn.options if o.id == turn.decision.option_id), None)
    text = f"{turn.decision.option_id} {chosen.description if chosen else ''}".lower()
    if not _LEAVE.search(text):
        return ""
    lowered = turn.input.lower()
    return next((p.name for p in people if p.named_in(lowered)), "")


def recall(ctx: TurnContext, people: tuple[Person, ...]) -> Memory:
    """Reads the turns before this one (newest first in `ctx.recent`)."""
    recent = [t for t in ctx.recent if not t.superseded]
    memory = Memory(
        banned=keys_of(t.text for t in recent[:NO_REPEAT_TURNS]),
        stale=keys_of(t.text for t in recent[NO_REPEAT_TURNS:STALE_TURNS]),
        obstacles={
            w
            for fact in ctx.scene.facts[:8]
            if _IN_THE_WAY.search(fact)
            for w in _WORD.findall(fact.lower())
        },
    )
    location = ctx.scene.location
    player = ctx.session.player.name
    # The turns spent here (this visit and earlier ones), oldest first, with how long ago.
    here = [
        (ago, turn)
        for ago, turn in enumerate(recent[:PLACE_LIMIT], 1)
        if turn.scene.location == location
    ][::-1]
    # This visit: the newest turns, without a turn elsewhere in between.
    stay = next((i for i, t in enumerate(recent) if t.scene.location != location), len(recent))
    seed = ctx.session.seed
    previous_ago = 0
    for ago, turn in here:
        if previous_ago and previous_ago != ago + 1:  # came back: who fled, the flame you lit
            memory.gone.clear()
            memory.lit = False
        previous_ago = ago
        memory.visited = memory.visited or ago > stay
        if turn.kind is TurnKind.DECISION:
            left = _decision_leaves(turn, people)
            if left:
                memory.gone.add(left)
            continue
        act = actions.parse(turn.input, player, people)
        if act.target:
            memory.gone.discard(act.target.name)
        act, result = memory.settle(seed, location, act, turn.provider == "offline")
        if ago <= stay:
            memory.stay.append(Past(ago, act, result))
        else:
            memory.returning = Past(ago, act, result)
    memory.turns_here = stay
    if here and stay == 0:  # arriving now, after being elsewhere
        memory.gone.clear()
        memory.lit = False
    return memory


def look_back(ctx: TurnContext, act: Action, people: tuple[Person, ...]) -> Past | None:
    """The latest earlier turn (not the last one) done to the same thing or person."""
    words = []
    if act.thing:
        words.append(act.thing.head)
    if act.target:
        words += list(act.target.calls)
    if not words:
        return None
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b")
    recent = [t for t in ctx.recent if not t.superseded]
    for ago, turn in enumerate(recent[:CALLBACK_LIMIT], 1):
        if ago < 2 or turn.kind is not TurnKind.NARRATION:
            continue
        if pattern.search(turn.input.lower()):
            earlier = actions.parse(turn.input, ctx.session.player.name, people)
            if not earlier.past or earlier.raw.strip().lower() == act.raw.strip().lower():
                continue
            same_thing = act.thing and earlier.thing and earlier.thing.head == act.thing.head
            if same_thing or (act.target and earlier.target == act.target):
                return Past(ago, earlier, "")
    return None
