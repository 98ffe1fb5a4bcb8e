"""A location as the narrator describes it. Its light, sound, smell, footing and air are
fixed by the session seed and the location's name (or the scene's attributes), so they stay
the same for as long as the player is there and when they come back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .compose import cap, seeded
from .scenery import MOODS, SENSES, THEME_OF, TONE_OF

if TYPE_CHECKING:
    from ...core.models import Scene
    from .compose import Slot

_WORD = re.compile(r"[a-z]+")
_LIGHT_NOUNS = re.compile(
    r"\b(?:light|glow|gloom|dark|darkness|torchlight|candlelight|lantern|sun|sunlight|moon|"
    r"moonlight|shadow|shadows|dusk|dawn|twilight|fire|firelight|lamplight)\b"
)
_ARTICLE = re.compile(r"^(?:a|an|the)\s", re.IGNORECASE)
# A fact about `head`: its noun phrase, then 'is', 'are' or a verb in -s, then the rest.
_FACT_SHAPE = r"^(?P<np>.*?\b{head}\w*)\s+(?P<verb>is|are|\w+s)\b(?P<rest>.*)$"


def tone_of(tone: str) -> str:
    """grim, whimsical, heroic or eerie: the first tone word found, else grim."""
    for word in _WORD.findall(tone[:200].lower()):
        if word in TONE_OF:
            return TONE_OF[word]
    return "grim"


def _phrase(value: str, limit: int = 48) -> str:
    value = " ".join(value.split()).strip(" .").lower()
    return value if 0 < len(value) <= limit else ""


def place_name(location: str) -> str:
    """'the flooded crypt'; a long or empty location becomes 'this place'."""
    name = " ".join(location.split()).strip(" .")
    if not name or len(name) > 60:
        return "this place"
    if name.startswith("The "):
        name = "the " + name[4:]
    return name


def themes_of(scene: Scene) -> tuple[str, ...]:
    """The place's themes, strongest first: the location's last words (its noun: 'the
    sunken library' is a library first), then its other words, then the facts."""
    found: list[str] = []
    words = _WORD.findall(scene.location[:400].lower())[::-1]
    for fact in scene.facts[:8]:
        words += _WORD.findall(fact[:400].lower())
    for word in words:
        theme = THEME_OF.get(word)
        if theme and theme not in found:
            found.append(theme)
    return tuple(found[:2]) or ("stone",)


@dataclass(frozen=True)
class Place:
    name: str
    theme: str
    tone: str
    light: str
    sound: str
    smell: str
    touch: str
    air: str
    weather: str
    time: str

    @classmethod
    def of(cls, seed: int, scene: Scene, tone: str, lit: bool = False) -> Place:
        name = place_name(scene.location)
        themes = themes_of(scene)
        rng = seeded(seed, "place", scene.location)
        picked = {
            sense: rng.choice([s for theme in themes for s in SENSES[theme][sense]])
            for sense in ("light", "sound", "smell", "touch")
        }
        air = rng.choice(MOODS[tone]["air"])
        attrs = {k.strip().lower().replace(" ", "_"): v for k, v in scene.attributes}
        light = _phrase(attrs.get("light", ""))
        if light:
            light = light if _ARTICLE.match(light) else f"the {light}"
            light = light if _LIGHT_NOUNS.search(light) else f"{light} light"
        if lit:
            light = "the light of the flame you lit"
        return cls(
            name,
            themes[0],
            tone,
            light or picked["light"],
            _phrase(attrs.get("sound", "") or attrs.get("noise", "")) or picked["sound"],
            _phrase(attrs.get("smell", "")) or picked["smell"],
            picked["touch"],
            air,
            _phrase(attrs.get("weather", ""), 30),
            _phrase(attrs.get("time_of_day", "") or attrs.get("time", ""), 30),
        )

    def slots(self) -> dict[str, Slot]:
        moods = MOODS[self.tone]
        return {
            "place": self.name,
            "Place": cap(self.name),
            "light": self.light,
            "Light": cap(self.light),
            "sound": self.sound,
            "Sound": cap(self.sound),
            "smell": self.smell,
            "touch": self.touch,
            "air": self.air,
            "mood": moods["mood"],
            "Mood": tuple(cap(m) for m in moods["mood"]),
            "feeling": moods["feeling"],
            "Feeling": tuple(cap(f) for f in moods["feeling"]),
        }

    def moments(self) -> tuple[str, ...]:
        return SENSES.get(self.theme, SENSES["stone"])["moment"]


def fact_clause(fact: str) -> str:
    """A fact as a clause to put inside a sentence ('the water is rising'), or "" when it
    is too long to read well."""
    text = " ".join(fact.split()).rstrip(".!;")
    if not text or len(text) > 120:
        return ""
    first = text.split(" ", 1)[0]
    if first in ("The", "A", "An", "It", "There", "This", "One", "Your", "Its", "Some"):
        text = first.lower() + text[len(first) :]
    return text


def no_longer(fact: str, head: str) -> str:
    """'a rusted gate blocks the way north' -> 'the rusted gate no longer blocks the way
    north' ("" when the fact does not read that way)."""
    clause = fact_clause(fact)
    match = re.match(_FACT_SHAPE.replace("{head}", re.escape(head)), clause)
    if not match:
        return ""
    np = _ARTICLE.sub("the ", match["np"], count=1)
    if match["verb"] in ("is", "are"):
        return f"{np} {match['verb']} no longer{match['rest']}"
    return f"{np} no longer {match['verb']}{match['rest']}"
