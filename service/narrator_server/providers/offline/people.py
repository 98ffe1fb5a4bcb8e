"""The characters of a scene as the narrator speaks of them: pronouns (from the `pronouns`
field or the description), mood (from the disposition), and a short description."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from .lexicon import words

if TYPE_CHECKING:
    from ...core.models import Character


@dataclass(frozen=True)
class Pronouns:
    they: str
    them: str
    their: str
    theirs: str
    themself: str
    plural_verbs: bool = False

    def slots(self) -> dict[str, str]:
        """Template slots: {they} {them} {their} ... and the verb endings that agree with
        the subject pronoun ({s}: 'watches' or 'watch', {is}, {has}, {was}, {does})."""
        p = self.plural_verbs
        return {
            "they": self.they,
            "They": self.they[:1].upper() + self.they[1:],
            "them": self.them,
            "their": self.their,
            "Their": self.their[:1].upper() + self.their[1:],
            "theirs": self.theirs,
            "themself": self.themself,
            "s": "" if p else "s",
            "es": "" if p else "es",
            "is": "are" if p else "is",
            "has": "have" if p else "has",
            "was": "were" if p else "was",
            "does": "do" if p else "does",
        }


SHE = Pronouns("she", "her", "her", "hers", "herself")
HE = Pronouns("he", "him", "his", "his", "himself")
THEY = Pronouns("they", "them", "their", "theirs", "themself", plural_verbs=True)
IT = Pronouns("it", "it", "its", "its", "itself")
_KNOWN = {
    "she": SHE, "her": SHE, "he": HE, "him": HE, "they": THEY, "them": THEY, "it": IT,
    "its": IT, "xe": Pronouns("xe", "xem", "xyr", "xyrs", "xemself"),
    "ze": Pronouns("ze", "zir", "zir", "zirs", "zirself"),
    "zie": Pronouns("zie", "zir", "zir", "zirs", "zirself"),
    "ey": Pronouns("ey", "em", "eir", "eirs", "emself"),
    "fae": Pronouns("fae", "faer", "faer", "faers", "faerself"),
    "ve": Pronouns("ve", "ver", "vis", "vis", "verself"),
}  # fmt: skip
_WORD = re.compile(r"[a-z]+")
_SHE_WORDS = words(
    "she her hers herself woman girl queen lady mother sister priestess witch daughter wife "
    "widow matron duchess princess countess empress nun abbess maiden madam dame heroine "
    "grandmother aunt niece sorceress enchantress huntress waitress mistress baroness "
    "ferrywoman fisherwoman washerwoman horsewoman swordswoman crone hag goddess"
)
_HE_WORDS = words(
    "he him his himself man boy king lord father brother priest son husband duke prince "
    "count emperor monk abbot sir gentleman grandfather uncle nephew sorcerer wizard baron "
    "ferryman fisherman horseman swordsman huntsman god hero master"
)
_IT_WORDS = words("golem ooze slime swarm construct automaton statue thing")


def parse_pronouns(text: str) -> Pronouns | None:
    """'she/her', 'He/Him', 'they', 'xe/xem', or five forms 'a/b/c/d/e'; None if unknown."""
    parts = [p for p in re.split(r"[\s/,;]+", text.strip().lower()) if p]
    if len(parts) == 5 and all(p.isalpha() and len(p) <= 12 for p in parts):
        known = _KNOWN.get(parts[0])
        they, them, their, theirs, themself = parts
        return known or Pronouns(they, them, their, theirs, themself, they == "they")
    return _KNOWN.get(parts[0]) if parts else None


def infer_pronouns(character: Character) -> Pronouns:
    """The `pronouns` field when it is readable; else what the description says ('she is
    wary', 'an old man'); else singular 'they'."""
    if character.pronouns.strip():
        parsed = parse_pronouns(character.pronouns[:80])
        if parsed is not None:
            return parsed
    words = _WORD.findall(character.description[:400].lower())
    she = sum(w in _SHE_WORDS for w in words)
    he = sum(w in _HE_WORDS for w in words)
    if she != he:
        return SHE if she > he else HE
    if any(w in _IT_WORDS for w in words):
        return IT
    return THEY


_MOODS = {
    "hostile": "hostile angry enemy aggressive furious hateful menacing vicious cruel violent "
    "murderous vengeful bloodthirsty",
    "fearful": "afraid scared terrified frightened fearful cowering timid panicked panicking",
    "wary": "wary suspicious nervous cautious guarded distrustful tense uneasy watchful",
    "friendly": "friendly ally kind warm loyal helpful cheerful grateful welcoming devoted "
    "trusting amiable",
}
_MOOD_OF = {word: mood for mood, words in _MOODS.items() for word in words.split()}
_TITLES = words("old young the sir lady lord dame master mistress captain brother")


def mood_of(disposition: str) -> str:
    """hostile, fearful, wary, friendly or neutral."""
    for word in _WORD.findall(disposition[:200].lower()):
        if word in _MOOD_OF:
            return _MOOD_OF[word]
    return "neutral"


@dataclass(frozen=True)
class Person:
    """A character as the narrator refers to them."""

    name: str
    pronouns: Pronouns
    mood: str
    # 'a smuggler' from 'a smuggler; she is wary': usable after the name, or "".
    appositive: str
    # Lowercase words a player may call them by ('perrin' for 'Old Perrin').
    calls: tuple[str, ...]
    _called: re.Pattern[str] = field(compare=False, repr=False, default=re.compile(r"(?!)"))

    @classmethod
    def of(cls, character: Character) -> Person:
        """Cached: the same characters come back every turn."""
        return _person(character)

    def slots(self) -> dict[str, str]:
        return {"Name": self.name, **self.pronouns.slots()}

    def named_in(self, lowered_text: str) -> bool:
        return self._called.search(lowered_text) is not None


def _appositive(description: str) -> str:
    head = re.split(r"[;.!?\n]|,\s|\s[-\u2013\u2014]\s", description.strip(), maxsplit=1)[0]
    head = head.strip()
    if not head or len(head) > 60 or not re.match(r"(?i)(a|an|the|one)\s", head):
        return ""
    return head[:1].lower() + head[1:]


@lru_cache(maxsize=1024)
def _person(character: Character) -> Person:
    name = " ".join(character.name.split())[:60] or "someone"
    calls = tuple(w for w in _WORD.findall(name.lower()) if len(w) > 2 and w not in _TITLES) or (
        name.lower(),
    )
    return Person(
        name,
        infer_pronouns(character),
        mood_of(character.disposition),
        _appositive(character.description),
        calls,
        re.compile(r"\b(?:" + "|".join(re.escape(c) for c in calls) + r")\b"),
    )
