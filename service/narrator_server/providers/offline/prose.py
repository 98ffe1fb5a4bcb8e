"""Writes the offline narration, continuation and decision rationale: pure functions of the
turn context (session seed, turn index, input, scene and the stored turns before it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...moderation.lexicon import default_lexicon
from . import cast, lines, memory, outcomes, scenery
from .action import Action, parse, second_person
from .compose import Slot, Writer, cap, keys_of, seeded
from .people import Person
from .place import Place, fact_clause, no_longer, tone_of

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from ...core.models import DecisionOption
    from ...core.ports import TurnContext

__all__ = ["choose", "continuation", "narration", "rng_for", "second_person"]
_WORD = re.compile(r"[a-z']+")
_STOP = {"the", "a", "an", "to", "of", "and", "at", "on", "in", "with", "my", "i", "you", "it"}
_AGGRESSIVE = {"attack", "attacks", "strike", "fight", "charge", "ambush", "shoot", "stab"}
_PEACEFUL = {"talk", "help", "trade", "parley", "greet", "offer", "offers", "share", "heal"}
_CAUTIOUS = {"flee", "flees", "hide", "retreat", "wait", "watch", "run", "leave"}
_GENERIC_ACTOR = re.compile(r"(?i)\bthe (?:creature|monster|npc|character|enemy|foe)\b")
_GENERIC_PLAYER = re.compile(r"(?i)\bthe (?:player|hero|adventurer)\b")


def rng_for(ctx: TurnContext) -> random.Random:
    """Seeded by session seed, turn index and input: the same turn always reads the same."""
    return seeded(ctx.session.seed, ctx.turn_index, ctx.input)


@dataclass
class _Turn:
    ctx: TurnContext
    writer: Writer
    people: tuple[Person, ...]
    memory: memory.Memory
    place: Place
    slots: dict[str, Slot]

    @property
    def rng(self) -> random.Random:
        return self.writer.rng

    def line(self, templates: tuple[str, ...], **extra: Slot) -> str:
        return self.writer.line(templates, {**self.slots, **extra})

    def must(self, templates: tuple[str, ...], **extra: Slot) -> str:
        """A line the turn cannot do without: an older sentence rather than none."""
        return self.writer.line(templates, {**self.slots, **extra}, required=True)

    def present(self) -> list[Person]:
        return [p for p in self.people if p.name not in self.memory.gone]


def _setup(ctx: TurnContext) -> _Turn:
    people = tuple(Person.of(c) for c in ctx.scene.characters[:16])
    mind = memory.recall(ctx, people)
    place = Place.of(ctx.session.seed, ctx.scene, tone_of(ctx.session.setting.tone), mind.lit)
    rating, lexicon = ctx.session.content_rating, default_lexicon()
    # Lines the local filter refuses at the session's rating are never written.
    unfit = lambda text: bool(lexicon.refused(text, rating))  # noqa: E731
    writer = Writer(rng_for(ctx), mind.banned, mind.stale, unfit)
    slots = {**place.slots(), "player": ctx.session.player.name or "traveller"}
    return _Turn(ctx, writer, people, mind, place, slots)


def _who(person: Person) -> dict[str, Slot]:
    who: Slot = person.name
    if person.appositive:
        who = (person.name, person.name, f"{person.name}, {person.appositive},")
    return {**person.slots(), "Who": who}


def _before_tag(words: str) -> str:
    """A quoted line as it reads before 'she says': 'Suit yourself.' -> 'Suit yourself,'."""
    return words[:-1] + "," if words.endswith(".") else words


def _in_character(person: Person, pool: tuple[str, ...]) -> tuple[str, ...]:
    slots = person.slots()
    return tuple(p.format_map(slots) for p in pool)


def _thing_slots(t: _Turn, act: Action) -> dict[str, Slot]:
    thing = act.thing
    default = {"look": t.place.name, "move": "the way ahead", "ready": "your weapon"}.get(
        act.kind, "it"
    )
    phrase, plural = (thing.phrase, thing.plural) if thing else (default, False)
    foe = act.target.name if act.target else (thing.phrase if thing else "your foe")
    return {
        "thing": phrase, "Thing": cap(phrase), "it": "them" if plural else "it",
        "its": "their" if plural else "its", "t_s": "" if plural else "s",
        "t_es": "" if plural else "es", "t_is": "are" if plural else "is",
        "t_has": "have" if plural else "has", "foe": foe, "Foe": cap(foe),
        "find": outcomes.FINDS.get(t.place.theme, outcomes.FINDS["stone"]),
    }  # fmt: skip


def _tell_action(t: _Turn, act: Action) -> None:
    if act.language == "en" and act.speech:
        say = "ask" if act.verb == "ask" or act.speech.endswith("?") else "say"
        to = ""
        if act.target:
            to = f" {act.target.name}" if say == "ask" else f" to {act.target.name}"
        t.must(lines.SPEECH, speech=act.speech, speech_=_before_tag(act.speech), say=say, to=to)
        return
    if act.language == "en":
        opener = lines.OPENERS + lines.KIND_OPENERS.get(act.kind, ())
        t.must(opener, clause=act.clause, Clause=cap(act.clause))
        if act.long:
            t.line(lines.LONG)
        return
    emoji = {"emoji_mood": act.emoji_mood, "emoji_thing": act.emoji_thing}
    if act.clause:
        frames = lines.FOREIGN_ACT if act.language == "foreign" else lines.EMOJI_ACT
        t.must(frames, act=act.clause, Act=cap(act.clause))
    elif act.language == "foreign":
        t.must(lines.FOREIGN)
    elif not act.emoji_mood:
        t.must(lines.WORDLESS)
    if act.emoji_mood:
        t.line(lines.EMOJI_MOOD, **emoji)
    if act.emoji_thing and t.writer.chance(0.6):
        t.line(lines.EMOJI_THING, **emoji)


def _outcome(t: _Turn, act: Action, fate: str) -> None:
    kind = "light" if act.verb in ("light", "ignite", "kindle") else act.kind
    if act.speech and act.target:
        return  # the one spoken to answers instead
    if fate == "already" and act.kind in outcomes.ALREADY:
        t.must(outcomes.ALREADY[act.kind], **_thing_slots(t, act))
        return
    pool = outcomes.OUTCOMES.get(kind, outcomes.OUTCOMES["other"])
    t.must(pool[fate], **_thing_slots(t, act))


def _reaction(t: _Turn, act: Action, fate: str) -> None:
    target = act.target
    if target is not None and target.name in t.memory.gone:
        t.line(cast.RETURNED, **target.slots())
        return
    if target is not None:
        slots = _who(target)
        if act.kind == "attack" and fate in cast.STRUCK:
            t.line(cast.STRUCK[fate], **slots)
        elif act.kind == "talk" or act.speech:
            sayings = cast.SAYINGS[target.mood]
            if act.topic:
                about = {"topic": act.topic, "Topic": cap(act.topic)}
                sayings = tuple(s.format_map(about) for s in cast.ABOUT[target.mood])
            t.line(
                cast.SPOKEN,
                saying=sayings,
                saying_=tuple(_before_tag(s) for s in sayings),
                tag=cast.TAGS[target.mood],
                **slots,
            )
        elif act.kind == "give" and fate in ("success", "partial"):
            t.line(cast.GIFTED[target.mood], **slots)
        else:
            _react(t, target)
        return
    present = t.present()
    if present and t.writer.chance(0.8):
        person = present[t.rng.randrange(len(present))]
        if person.name in t.memory.hurt and t.writer.chance(0.5):
            t.line(cast.HURT, **person.slots())
        else:
            _react(t, person)


def _react(t: _Turn, person: Person) -> None:
    t.line(
        cast.REACTION_FRAMES + cast.REACTIONS[person.mood],
        gesture=_in_character(person, cast.GESTURES[person.mood]),
        tail=_in_character(person, cast.TAILS[person.mood]),
        **_who(person),
    )


def _facts(t: _Turn, act: Action, arrival: bool) -> None:
    """One fact (two on arrival), as it stands now: a fact the player changed says so
    ('the gate no longer blocks the way'), one about a thing another narrator's turn dealt
    with is left alone, one about what the player is doing comes first."""
    action_words = {w for w in _WORD.findall(act.raw.lower()) if len(w) > 3}
    rendered: list[tuple[int, str, str]] = []  # (priority, kind, text)
    for fact in t.ctx.scene.facts[:8]:
        clause = fact_clause(fact)
        words = set(_WORD.findall(fact.lower()))
        if not clause or words & t.memory.touched:
            continue
        changed = next((h for h in t.memory.changed if h in words), "")
        if changed:
            now = no_longer(fact, changed) if changed in t.memory.obstacles else ""
            if now:
                rendered.append((2, "changed", now))
        else:
            relevant = bool(words & action_words)
            rendered.append((1 if relevant else 0, "relevant" if relevant else "plain", clause))
    if not rendered:
        return
    if arrival:
        for _, kind, text in rendered[:2]:
            frames = lines.CHANGED_FACTS if kind == "changed" else lines.ARRIVAL_FACTS
            t.line(frames, fact=text, Fact=cap(text), changed=text, Changed=cap(text))
        return
    t.rng.shuffle(rendered)
    _, kind, text = max(rendered, key=lambda r: r[0])
    if kind == "changed" and t.writer.chance(0.7):
        t.line(lines.CHANGED_FACTS, changed=text, Changed=cap(text))
    elif kind == "relevant" and t.writer.chance(0.9):
        t.line(lines.RELEVANT_FACTS, fact=text, Fact=cap(text))
    elif kind == "plain" and t.writer.chance(0.35):
        t.line(lines.FACTS, fact=text, Fact=cap(text))


def _arrive(t: _Turn) -> None:
    if t.memory.visited:
        t.line(scenery.RETURN_FRAMES)
        past = t.memory.returning
        if past is not None and past.action.past and t.writer.chance(0.6):
            t.line(lines.RETURN_PAST, past=past.action.past.removeprefix("you "))
    else:
        t.line(scenery.ARRIVAL_FRAMES)
    for person in t.present()[:3]:
        presence = tuple(p.format_map(person.slots()) for p in cast.PRESENCE[person.mood])
        t.line(cast.PRESENT, presence=presence, **_who(person))


def _ambience(t: _Turn) -> None:
    frames = (
        scenery.LIGHT_FRAMES,
        scenery.SOUND_FRAMES,
        scenery.SMELL_FRAMES,
        scenery.AIR_FRAMES,
        scenery.TOUCH_FRAMES,
        t.place.moments(),
    )
    t.line(frames[t.rng.randrange(len(frames))])
    if t.place.weather and t.writer.chance(0.2):
        t.line(lines.WEATHER, weather=t.place.weather)
    elif t.place.time and t.writer.chance(0.2):
        t.line(lines.TIME, time=t.place.time)


def _callback(t: _Turn, act: Action) -> None:
    past = memory.look_back(t.ctx, act, t.people)
    if past is None:
        return
    ago = next(text for turns, text in reversed(lines.AGO.items()) if past.ago >= turns)
    tail = past.action.past.removeprefix("you ")
    target = act.target
    if target is not None and target.named_in(past.action.raw.lower()):
        them = re.sub(rf"\b{re.escape(target.name)}\b", target.pronouns.them, tail)
        t.line(lines.CALLBACK_PERSON, past=them, **target.slots())
    else:
        t.line(lines.CALLBACKS, past=tail, ago=ago)


def _story(t: _Turn, act: Action, fate: str, skip_place: bool = False, told: bool = False) -> None:
    """Everything after the action itself (`told`: its outcome was already narrated)."""
    arrival = t.memory.turns_here == 0
    if arrival and act.kind == "move" and not told:
        _outcome(t, act, fate)  # you get somewhere, then see it
    if arrival and not skip_place:
        _arrive(t)
    if not told and (not arrival or act.kind != "move"):
        _outcome(t, act, fate)
    _reaction(t, act, fate if not told else "")
    extras: list[Callable[[], object]] = [
        lambda: _facts(t, act, arrival),
        lambda: _callback(t, act),
    ]
    if not arrival and t.writer.chance(0.6):
        extras.append(lambda: _ambience(t))
    aside = act.aside
    if aside is not None and aside.name not in t.memory.gone:
        extras.append(lambda: t.line(lines.ASIDE, **aside.slots()))
    t.rng.shuffle(extras)
    for extra in extras:
        extra()
    if t.writer.chance(0.3):
        present = t.present()
        if present and t.writer.chance(0.3):
            t.line(lines.PERSON_HOOKS, **present[t.rng.randrange(len(present))].slots())
        else:
            t.line(lines.HOOKS[t.place.tone])


def _settled(t: _Turn) -> tuple[Action, str]:
    act = parse(t.ctx.input, t.ctx.session.player.name, t.people)
    return t.memory.settle(t.ctx.session.seed, t.ctx.scene.location, act)


def narration(ctx: TurnContext) -> str:
    t = _setup(ctx)
    act, fate = _settled(t)
    _tell_action(t, act)
    _story(t, act, fate)
    return t.writer.text()


def continuation(ctx: TurnContext, partial: str) -> str:
    """Goes on from another narrator's cut-off text: no restated action, nothing it said."""
    t = _setup(ctx)
    t.writer.banned = t.writer.banned | keys_of([partial])
    act, fate = _settled(t)
    # Past a few words the other narrator has begun telling how it went: do not contradict it.
    told = len(partial.split()) >= 8
    _story(t, act, fate, skip_place=t.place.name.lower() in partial.lower(), told=told)
    text = t.writer.text()
    stripped = partial.rstrip()
    joiner = "" if not partial or partial[-1].isspace() else " "
    if stripped and stripped[-1] not in '.!?\u2026"\u201d':
        joiner += "\u2026 "  # the cut-off sentence trails away
    return joiner + text


def _leaning(option: DecisionOption) -> str:
    words = set(_WORD.findall(f"{option.id} {option.description}".lower()))
    for name, group in (
        ("aggressive", _AGGRESSIVE),
        ("cautious", _CAUTIOUS),
        ("peaceful", _PEACEFUL),
    ):
        if words & group:
            return name
    return "other"


def score_option(
    option: DecisionOption, ctx: TurnContext, mind: memory.Memory | None = None
) -> float:
    """Word overlap of the option with the question and scene, nudged by dispositions and
    by what the player did to them lately."""
    scene = ctx.scene
    context_text = " ".join(
        [ctx.input, scene.location, *scene.facts]
        + [f"{c.name} {c.description} {c.disposition}" for c in scene.characters]
    )
    context = set(_WORD.findall(context_text.lower())) - _STOP
    option_words = set(_WORD.findall(f"{option.id} {option.description}".lower())) - _STOP
    score = float(len(context & option_words))
    people = [Person.of(c) for c in scene.characters[:16]]
    moods = {p.mood for p in people}
    if "hostile" in moods or (mind and mind.hurt):
        score += 1.5 * len(option_words & _AGGRESSIVE)
    if "friendly" in moods or (mind and mind.gifted):
        score += 1.5 * len(option_words & _PEACEFUL)
    if moods & {"wary", "fearful"}:
        score += 1.0 * len(option_words & _CAUTIOUS)
    return score


def _reason(option: DecisionOption, actor: str, player: str) -> str:
    text = " ".join((option.description or option.id.replace("_", " ")).split()).rstrip(".")
    text = _GENERIC_ACTOR.sub(actor, text)
    text = _GENERIC_PLAYER.sub(player, text)
    if len(text) > 80:
        text = text[:81].rsplit(" ", 1)[0]
    return (
        text
        if text[:1].isupper() and text.split(" ", 1)[0] in (actor, player)
        else (text[:1].lower() + text[1:])
    )


def choose(ctx: TurnContext) -> tuple[DecisionOption, str, tuple[str, ...]]:
    """The best-scoring option (ties broken by the turn's seed), its rationale, and who its
    arguments may name: the player first, then the others present (not the one deciding)."""
    t = _setup(ctx)
    scored = [(score_option(o, ctx, t.memory) + t.rng.random() * 0.5, o) for o in ctx.options]
    best = max(scored, key=lambda pair: pair[0])[1]
    lowered = ctx.input.lower()
    named = [p for p in t.people if p.named_in(lowered)]
    person = named[0] if named else (t.people[t.rng.randrange(len(t.people))] if t.people else None)
    player = ctx.session.player.name or "you"
    if person is None:
        t.line(cast.NOBODY)
        t.line(cast.CHOSEN, reason=_reason(best, "it", player))
    else:
        slots = _who(person)
        t.line(cast.LEANINGS[_leaning(best)], **slots)
        if person.name in t.memory.hurt:
            t.line(cast.MEMORY["hurt"], **slots)
        elif person.name in t.memory.gifted:
            t.line(cast.MEMORY["gift"], **slots)
        t.line(cast.CHOSEN, reason=_reason(best, person.name, player))
    if t.writer.chance(0.4):
        _facts(t, parse(ctx.input, player, t.people), arrival=False)
    others = tuple(p.name for p in t.people if p is not person)
    return best, t.writer.text(), (player, *others)
