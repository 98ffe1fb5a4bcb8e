"""Writes the offline narration and decision rationale: pure functions of the turn context."""

from __future__ import annotations

import hashlib
import random
import re
from typing import TYPE_CHECKING

from . import voice

if TYPE_CHECKING:
    from ...core.models import Character, DecisionOption, Scene
    from ...core.ports import TurnContext

_WORD = re.compile(r"[a-z']+")
_FIRST_PERSON = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "i'm": "you're", "i'll": "you'll", "i've": "you've", "i'd": "you'd", "am": "are",
}  # fmt: skip
_STOP = {"the", "a", "an", "to", "of", "and", "at", "on", "in", "with", "my", "i", "you", "it"}


def rng_for(ctx: TurnContext) -> random.Random:
    """Seeded by session seed, turn index and input: the same turn always reads the same."""
    key = f"{ctx.session.seed}:{ctx.turn_index}:{ctx.input}".encode()
    return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))


def second_person(action: str) -> str:
    """'I pry the lid off my coffin' -> 'you pry the lid off your coffin'."""
    text = action.strip().rstrip(".!?")
    words = text.split()
    if not words:
        return "you hesitate"
    if words[0].lower() not in _FIRST_PERSON:
        words[0] = words[0].lower() if not words[0].isupper() else words[0]
        words.insert(0, "you")
    return " ".join(_FIRST_PERSON.get(w.lower(), w) for w in words)


_OBJECT = re.compile(
    r"\b(?:the|a|an|my|your|his|her|their|its|this|that|some)\s+([a-z'-]+(?:\s+[a-z'-]+)?)"
    r"(?=\s+(?:of|off|on|in|into|at|to|from|with|behind|under|over)\b|[.!?,]|$)"
)


def _thing(action: str) -> str | None:
    """The object of the action ('the rusty lever' -> 'rusty lever'), when there is one."""
    match = _OBJECT.search(action.lower().strip())
    return match.group(1) if match else None


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _disposition(character: Character) -> str:
    text = character.disposition.lower()
    for name, words in voice.DISPOSITION_WORDS.items():
        if any(w in text for w in words):
            return name
    return "neutral"


def _focus(scene: Scene, text: str, rng: random.Random) -> Character | None:
    """The character the text names, else one picked by the turn's seed."""
    lowered = text.lower()
    named = [c for c in scene.characters if c.name.split()[0].lower() in lowered]
    if named:
        return named[0]
    return rng.choice(scene.characters) if scene.characters else None


def _reaction(character: Character, rng: random.Random) -> str:
    template = rng.choice(voice.REACTIONS[_disposition(character)])
    description = character.description or "unreadable as ever"
    return template.format(Name=_cap(character.name), description=description)


def _outcome(action: str, rng: random.Random) -> str:
    kind = rng.choice(("success", "partial", "complication"))
    thing = _thing(action)
    if thing is None:
        return rng.choice(voice.PLAIN_OUTCOMES[kind])
    return rng.choice(voice.OUTCOMES[kind]).format(thing=thing)


def narration(ctx: TurnContext) -> str:
    rng = rng_for(ctx)
    scene, tone = ctx.scene, voice.TONES.get(ctx.session.setting.tone.lower(), {})
    words = tone or voice.TONES[voice.DEFAULT_TONE]
    clause = second_person(ctx.input)
    location = scene.location or "the darkness"
    pick = {k: rng.choice(v) for k, v in words.items()}
    sentences = [
        rng.choice(voice.OPENINGS).format(Clause=_cap(clause), clause=clause),
        rng.choice(voice.PLACES).format(
            Location=_cap(location), location=location, Light=_cap(pick["light"]), **pick
        ),
        _outcome(ctx.input, rng),
    ]
    character = _focus(scene, ctx.input, rng)
    if character is not None:
        sentences.append(_reaction(character, rng))
    if scene.facts:
        fact = rng.choice(scene.facts).strip().rstrip(".")
        sentences.append(rng.choice(voice.FACTS).format(fact=fact[:1].lower() + fact[1:]))
    for key, value in scene.attributes:
        if key.lower() in ("weather", "time", "time_of_day", "light"):
            sentences.append(f"The {key.replace('_', ' ')} is {value.strip().lower()}.")
            break
    sentences.append(rng.choice(voice.HOOKS).format(player=ctx.session.player.name))
    return " ".join(sentences)


def continuation(ctx: TurnContext, partial: str) -> str:
    """Goes on from another narrator's cut-off text: no restated action, no repeat."""
    sentences = re.split(r"(?<=[.!?])\s+", narration(ctx))[1:]  # the first restates the action
    stripped = partial.rstrip()
    joiner = "" if not partial or partial[-1].isspace() else " "
    if stripped and stripped[-1] not in '.!?\u2026"\u201d':
        joiner += "\u2026 "  # the cut-off sentence trails away
    return joiner + " ".join(sentences)


def score_option(option: DecisionOption, ctx: TurnContext) -> float:
    """Word overlap of the option with the question and scene, nudged by dispositions."""
    scene = ctx.scene
    context_text = " ".join(
        [ctx.input, scene.location, *scene.facts]
        + [f"{c.name} {c.description} {c.disposition}" for c in scene.characters]
    )
    context = set(_WORD.findall(context_text.lower())) - _STOP
    option_words = set(_WORD.findall(f"{option.id} {option.description}".lower())) - _STOP
    score = float(len(context & option_words))
    moods = {_disposition(c) for c in scene.characters}
    aggressive = {"attack", "strike", "fight", "charge", "ambush", "shoot", "stab"}
    peaceful = {"talk", "help", "trade", "parley", "greet", "offer", "share", "heal"}
    if "hostile" in moods:
        score += 1.5 * len(option_words & aggressive)
    if "friendly" in moods:
        score += 1.5 * len(option_words & peaceful)
    if "wary" in moods:
        score += 1.0 * len(option_words & {"flee", "hide", "retreat", "wait", "watch"})
    return score


def choose(ctx: TurnContext) -> tuple[DecisionOption, str, tuple[str, ...]]:
    """The best-scoring option (ties broken by the turn's seed), its rationale, and who its
    arguments may name: the player first, then the others present (not the one deciding)."""
    rng = rng_for(ctx)
    scored = [(score_option(o, ctx) + rng.random() * 0.5, o) for o in ctx.options]
    best = max(scored, key=lambda pair: pair[0])[1]
    character = _focus(ctx.scene, ctx.input, rng)
    who = _cap(character.name) if character else "The dungeon itself"
    where = ctx.scene.location or "this place"
    reason = best.description or best.id.replace("_", " ")
    lines = [
        f"{who} weighs the moment in {where}.",
        rng.choice(
            (
                f"There is only one sensible answer: {reason}.",
                f"Instinct wins over caution, and so: {reason}.",
                f"After a tense heartbeat, the choice is made: {reason}.",
            )
        ),
    ]
    if ctx.scene.facts:
        lines.append(f"After all, {ctx.scene.facts[0].strip().rstrip('.').lower()}.")
    others = tuple(c.name for c in ctx.scene.characters if c is not character)
    return best, " ".join(lines), (ctx.session.player.name, *others)
