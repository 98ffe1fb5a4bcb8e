"""A scripted 50-turn session and the measures of its prose: what `bench/prose_quality.py`
prints and what the offline narrator's tests hold to a floor.

The script walks four rooms and comes back to the first, with first-person, imperative,
French, Spanish, Chinese, emoji-only and very long actions, a gate that is opened and then
walked through, characters whose pronouns come from their description or the `pronouns`
field, and a few Decide turns.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from narrator import DecisionMade, NarratorClient, TurnCompleted, scene
from narrator.v1 import scene_pb2

LONG_ACTION = (
    "I carefully check every corner of the chamber, running my fingers along the slimy walls, "
    "looking for hidden levers, loose stones, scratched symbols or anything else the smugglers "
    "might have left behind, and while I do that I keep one eye on Mirela in case she tries "
    "anything clever behind my back"
)
FRENCH_ACTION = "je lève mon épée 🗡️ et je crie"
EMOJI_ACTION = "🗡️🔥🔥😱"

ROOMS: dict[str, scene_pb2.Scene] = {
    "antechamber": scene(
        "the flooded antechamber",
        [scene_pb2.Character(name="Mirela", description="a smuggler; she is wary",
                             disposition="wary")],
        ["the water is knee-deep and cold", "a rusted gate blocks the way north"],
        {"light": "dim"},
    ),
    "shrine": scene(
        "the goblin shrine",
        [scene_pb2.Character(name="Grub", description="a goblin chief in a crown of teeth",
                             disposition="hostile", pronouns="he/him")],
        ["candles burn around a cracked idol", "the floor is slick with wax"],
    ),
    "library": scene(
        "the sunken library",
        [scene_pb2.Character(name="Old Perrin", description="a ghostly archivist, an old man",
                             disposition="friendly")],
        ["the shelves lean like drowned trees", "one book glows faintly"],
    ),
    "dock": scene(
        "the smugglers' dock",
        [scene_pb2.Character(name="Tamsin", description="a ferrywoman who hums to herself",
                             disposition="neutral"),
         scene_pb2.Character(name="Mirela", description="a smuggler; she is wary",
                             disposition="wary")],
        ["a narrow boat bobs at the pier", "fog hides the far side of the canal"],
        {"time_of_day": "night"},
    ),
}  # fmt: skip
# The pronouns a reader expects for each character of the script.
EXPECTED_PRONOUNS = {"Mirela": "she", "Grub": "he", "Perrin": "he", "Tamsin": "she"}
OPTIONS = (
    ("attack", "the creature attacks the player"),
    ("flee", "the creature flees deeper into the dungeon"),
    ("parley", "the creature offers to talk or trade"),
)


@dataclass(frozen=True)
class Step:
    room: str
    action: str
    decide: bool = False
    # Not English (or only emoji): none of its words may be spliced into the prose.
    foreign: bool = False


SCRIPT: tuple[Step, ...] = (
    Step("antechamber", "I look around"),
    Step("antechamber", "I wade through the water towards Mirela"),
    Step("antechamber", "I ask Mirela what she is doing here"),
    Step("antechamber", "I push the rusted gate"),
    Step("antechamber", "I go north through the gate"),
    Step("antechamber", FRENCH_ACTION, foreign=True),
    Step("antechamber", "I search the water for anything useful"),
    Step("antechamber", LONG_ACTION),
    Step("antechamber", EMOJI_ACTION, foreign=True),
    Step("antechamber", "What does Mirela do?", decide=True),
    Step("shrine", "I step into the shrine"),
    Step("shrine", "I draw my sword"),
    Step("shrine", "I attack Grub"),
    Step("shrine", "Grub, I only want to talk"),
    Step("shrine", "I light a candle from the idol"),
    Step("shrine", "I examine the cracked idol"),
    Step("shrine", "Open the chest behind the idol"),
    Step("shrine", "I throw a coin to Grub"),
    Step("shrine", "Grub is furious: what does he do?", decide=True),
    Step("shrine", "I back away slowly"),
    Step("library", "I enter the library"),
    Step("library", "I greet Old Perrin"),
    Step("library", "I take the glowing book"),
    Step("library", "I read the glowing book"),
    Step("library", "¿Dónde está la salida? Necesito salir ahora mismo", foreign=True),
    Step("library", "I ask Perrin about the old gods"),
    Step("library", "I climb the leaning shelves"),
    Step("library", "I listen"),
    Step("library", "I rest for a moment"),
    Step("library", "我打开门，然后慢慢走进去", foreign=True),
    Step("dock", "I walk down to the dock"),
    Step("dock", "I wave to Tamsin"),
    Step("dock", "I ask Tamsin to take me across the canal"),
    Step("dock", "I untie the narrow boat"),
    Step("dock", "I whisper to Mirela that we should leave"),
    Step("dock", "I stare into the fog"),
    Step("dock", "I pay Tamsin with my last silver"),
    Step("dock", "What does Tamsin do?", decide=True),
    Step("dock", "I step into the boat"),
    Step("dock", "I row towards the far side"),
    Step("antechamber", "I return to the flooded antechamber"),
    Step("antechamber", "I look for Mirela"),
    Step("antechamber", "I walk through the open gate"),
    Step("antechamber", "I drink from my flask"),
    Step("antechamber", "I check my wounds"),
    Step("antechamber", "I sing an old marching song"),
    Step("antechamber", "I kick the rusted gate"),
    Step("antechamber", "I wait in the dark"),
    Step("antechamber", "I shout for help"),
    Step("antechamber", "I sit on a stone and think"),
)


@dataclass(frozen=True)
class Played:
    step: Step
    text: str
    option_id: str = ""


async def play(address: str, seed: int = 7) -> tuple[str, list[Played]]:
    """Plays SCRIPT against a server in one new session with the given seed: its id and
    what each turn said."""
    played: list[Played] = []
    async with NarratorClient(address) as client:
        session = await client.create_session(
            "a drowned city of smugglers and old gods", "Ash", tone="grim",
            player_description="a disgraced knight with a cursed blade", seed=seed,
        )  # fmt: skip
        for step in SCRIPT:
            room = ROOMS[step.room]
            if step.decide:
                events = client.decide(session.session_id, step.action, OPTIONS, scene=room)
            else:
                events = client.narrate(session.session_id, step.action, room)
            text, option_id = "", ""
            async for event in events:
                if isinstance(event, DecisionMade):
                    option_id = event.option_id
                elif isinstance(event, TurnCompleted):
                    text = event.text
            played.append(Played(step, text, option_id))
    return session.session_id, played


_SENTENCE = re.compile(r"(?<=[.!?\u2026])\s+")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_THEY = {"they", "them", "their", "theirs", "themself", "themselves"}
_FORMS = {
    "she": {"she", "her", "hers", "herself"},
    "he": {"he", "him", "his", "himself"},
}
_FIRST_PERSON = re.compile(
    r"\bI\b|\bI'(?:m|ll|ve|d)\b|\b(?i:me|my|mine|myself|we|us|our|ours|ourselves)\b"
)
_QUOTED = re.compile(r"[\u201c\"][^\u201d\"]*[\u201d\"]")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _norm(sentence: str) -> str:
    return " ".join(_WORD.findall(sentence.lower()))


def repeated_sentence_rate(texts: list[str]) -> float:
    """Share of the session's sentences that repeat an earlier one (anywhere before)."""
    seen: set[str] = set()
    total = repeated = 0
    for text in texts:
        for sentence in sentences(text):
            key = _norm(sentence)
            total += 1
            repeated += key in seen
            seen.add(key)
    return repeated / total if total else 0.0


def repeats_within(texts: list[str], window: int = 10) -> int:
    """Sentences that repeat one of the previous `window` turns (or their own turn)."""
    keys = [[_norm(s) for s in sentences(t)] for t in texts]
    count = 0
    for i, turn in enumerate(keys):
        before = {k for earlier in keys[max(0, i - window) : i] for k in earlier}
        for j, key in enumerate(turn):
            count += key in before or key in turn[:j]
    return count


def distinct_trigrams(texts: list[str]) -> float:
    """Distinct word trigrams over all trigrams of the session (each turn's own)."""
    grams = [
        tuple(words[i : i + 3])
        for text in texts
        for words in [_WORD.findall(text.lower())]
        for i in range(len(words) - 2)
    ]
    return len(set(grams)) / len(grams) if grams else 0.0


def longest_echo(action: str, text: str) -> int:
    """Length of the longest run of characters of the action found verbatim in the text."""
    a, b = action.lower(), text.lower()
    match = difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match()
    return int(match.size)


@dataclass
class PronounUse:
    """In sentences naming exactly one scripted character: the expected pronouns used, and
    'they' forms used for a character who is 'she' or 'he'."""

    expected: int = 0
    they: int = 0
    wrong: int = 0
    by_name: dict[str, int] = field(default_factory=dict)


def pronoun_use(played: list[Played]) -> PronounUse:
    use = PronounUse()
    for p in played:
        for sentence in sentences(p.text):
            names = [n for n in EXPECTED_PRONOUNS if n in sentence]
            if len(names) != 1:
                continue
            name, words = names[0], [w.lower() for w in _WORD.findall(_QUOTED.sub("", sentence))]
            expected = _FORMS[EXPECTED_PRONOUNS[name]]
            other = set().union(*(f for f in _FORMS.values() if f is not expected))
            hits = sum(w in expected for w in words)
            use.expected += hits
            use.by_name[name] = use.by_name.get(name, 0) + hits
            use.they += sum(w in _THEY for w in words)
            use.wrong += sum(w in other for w in words)
    return use


def first_person_leaks(played: list[Played]) -> int:
    """'I', 'my', 'we'... in the narration outside quoted speech: the player's words pasted."""
    return sum(len(_FIRST_PERSON.findall(_QUOTED.sub("", p.text))) for p in played)


def spliced_foreign_words(played: list[Played]) -> int:
    """Words (3+ letters) or emoji of non-English actions that appear in the narration."""
    count = 0
    for p in played:
        if not p.step.foreign:
            continue
        lowered = p.text.lower()
        pieces = [w for w in _WORD.findall(p.step.action.lower()) if len(w) >= 3]
        pieces += [c for c in p.step.action if ord(c) > 0x2000 and not c.isalpha()]
        pieces += [c for c in p.step.action if "\u4e00" <= c <= "\u9fff"]
        count += sum(piece in lowered for piece in pieces)
    return count


@dataclass(frozen=True)
class Quality:
    turns: int
    sentences: int
    repeated_rate: float
    repeats_within_10: int
    distinct_trigrams: float
    longest_echo: int
    pronouns: PronounUse
    first_person_leaks: int
    spliced_foreign: int


def measure(played: list[Played]) -> Quality:
    texts = [p.text for p in played]
    return Quality(
        turns=len(played),
        sentences=sum(len(sentences(t)) for t in texts),
        repeated_rate=repeated_sentence_rate(texts),
        repeats_within_10=repeats_within(texts),
        distinct_trigrams=distinct_trigrams(texts),
        longest_echo=max(longest_echo(p.step.action, p.text) for p in played),
        pronouns=pronoun_use(played),
        first_person_leaks=first_person_leaks(played),
        spliced_foreign=spliced_foreign_words(played),
    )
