"""Reads the player's input: its language, emoji, speech, and the action as 'you' do it
(verb, kind of action, the thing acted on, who it is aimed at), never longer than the
narrator may repeat verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from . import lexicon

if TYPE_CHECKING:
    from .people import Person

# The most of the player's words the narration repeats verbatim in one run.
MAX_ECHO = 60
# Emoji and pictographs, with the joiners and selectors that combine them.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u2190-\u21ff"
    "\ufe0f\u200d\u20e3\U000e0020-\U000e007f]"
)
# Letters of scripts other than Latin (Greek and Cyrillic to Hangul, CJK, full-width forms).
_OTHER_SCRIPT = re.compile("[\u0370-\u1dff\u2e80-\u9fff\ua000-\ud7ff\uf900-\ufaff\uff00-\uffef]+")
_STRAY_QUOTES = re.compile('["\u201c\u201d\u00ab\u00bb]')
_JOINERS = frozenset("\ufe0f\u200d\u20e3")
_TOKEN = re.compile(r"[\w'\u2019-]+|[^\w\s]")
_WORDS = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_QUOTE = re.compile(r"[\"\u201c\u00ab]([^\"\u201d\u00bb]{1,400})[\"\u201d\u00bb]")
_CLAUSE_BREAK = re.compile(
    r"\s*[,;:]\s*|\s+(?:and then|then|while|because|so that|but|before|after|until)\s+"
)
_FIRST = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "i'm": "you're", "i'll": "you'll", "i've": "you've", "i'd": "you'd", "we": "you",
    "us": "you", "our": "your", "ours": "yours", "ourselves": "yourselves",
    "we're": "you're", "we'll": "you'll", "we've": "you've",
}  # fmt: skip
_AFTER_YOU = {"am": "are", "was": "were", "is": "are", "has": "have", "does": "do"}
# An order to someone else: 'give me', 'tell us', 'let me pass'.
_COMMAND = re.compile(r"(?i)^\s*\w+\s+(?:me|us)\b")
_YOU = frozenset(("you", "you're", "you'll", "you've", "you'd"))
_DETERMINERS = lexicon.words("the a an your his her their its this that some any one")
_REFERENCE = {"your": "your", "his": "his", "her": "her", "their": "their", "its": "its"}
_STOP = lexicon.words(
    "of off on in into at to from with behind under over and or then for towards toward "
    "through across by near until while so but that which who as if"
)
_SKIP = lexicon.words("try tries to want decide attempt begin start carefully slowly")
_TRAILING = _STOP | _DETERMINERS | {"you", "your"}


@dataclass(frozen=True)
class Thing:
    """What an action is done to: 'the rusted gate' (head 'gate')."""

    phrase: str
    head: str
    plural: bool


@dataclass(frozen=True)
class Action:
    raw: str
    # "en", "foreign" (another language), "emoji" (emoji only) or "empty".
    language: str
    # The action as 'you' do it, at most MAX_ECHO characters of the player's words.
    clause: str
    verb: str = ""
    kind: str = "other"
    thing: Thing | None = None
    target: Person | None = None
    # Words the player speaks aloud (quoted, shortened), when the action is speech.
    speech: str = ""
    # What the player's emoji express: a thing ('fire') and a feeling ('terror').
    emoji_thing: str = ""
    emoji_mood: str = ""
    # The input was longer than the narrator repeats: the clause is a paraphrase.
    long: bool = False
    # Someone present the player mentioned besides the main clause (long actions).
    aside: Person | None = None
    # What a question is about ('ask Perrin about the old gods' -> 'the old gods').
    topic: str = ""

    @property
    def past(self) -> str:
        """'you pushed the rusted gate', for looking back on it; "" when unclear."""
        if self.language != "en" or not self.verb or self.speech:
            return ""
        words = self.clause.split()
        if self.verb not in words:
            return ""
        at = words.index(self.verb)
        rest = words[at + 1 :]
        if len(rest) > 8:
            rest = rest[:6]
            while rest and rest[-1].lower() in _TRAILING:
                rest.pop()
        return " ".join(["you", lexicon.past(self.verb), *rest])


def _language(text: str) -> str:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "empty"
    other_script = sum(1 for c in letters if ord(c) > 0x24F and not 0x1E00 <= ord(c) <= 0x1EFF)
    if other_script * 3 > len(letters):
        return "foreign"
    words = [w.lower().replace("\u2019", "'") for w in _WORDS.findall(text)]
    # One-letter words ('a', 'y', 'i') belong to too many languages to count.
    english = sum(
        1
        for w in words
        if len(w) > 1 and (w in lexicon.ENGLISH or w in lexicon.KIND_OF or w in lexicon.BASE_OF)
    )
    foreign = sum(1 for w in words if w in lexicon.FOREIGN and w not in lexicon.ENGLISH)
    accented = sum(1 for w in words if not w.isascii())
    if foreign + accented // 2 > english or (english == 0 and foreign + accented > 0):
        return "foreign"
    return "en"


def _shorten(text: str, limit: int = MAX_ECHO) -> str:
    """At most `limit` characters, cut between words, without a dangling 'the' or 'and'."""
    if len(text) <= limit:
        return text
    words = text[: limit + 1].split()[:-1]
    while len(words) > 1 and words[-1].lower() in _TRAILING:
        words.pop()
    return " ".join(words)


def _rewrite(words: list[str], player: str) -> list[str]:
    """First person to second; 'Ash opens' to 'you open'; imperatives get 'you'."""
    if not words:
        return ["you", "hesitate"]
    out = [_FIRST.get(w.lower().replace("\u2019", "'"), w) for w in words]
    if out[0].lower() in (player.lower(), "you") and len(out) > 1:
        out[0] = "you"
        out[1] = lexicon.BASE_OF.get(out[1].lower(), out[1])
    elif out[0].lower() not in _YOU:
        if out[0].lower().endswith("ly") and len(out) > 1:  # 'Slowly I back away'
            rest = out[1:]
            if rest[0].lower() == "you":
                rest = rest[1:]
            out = ["you", out[0].lower(), *rest]
        else:
            first = out[0] if out[0][1:2].isupper() else out[0].lower()
            out = ["you", lexicon.BASE_OF.get(first, first), *out[1:]]
    for i in range(1, len(out)):
        if out[i - 1] == "you" and out[i].lower() in _AFTER_YOU:
            out[i] = _AFTER_YOU[out[i].lower()]
    return out


def _verb(words: list[str]) -> tuple[str, int]:
    """The main verb of 'you ...' words and its position (-1 when none is known)."""
    for i, word in enumerate(words[1:8], 1):
        w = word.lower()
        if w in _SKIP or w.endswith("ly"):
            continue
        w = lexicon.BASE_OF.get(w, w)
        if w in lexicon.KIND_OF:
            return w, i
        return "", -1
    return "", -1


def _thing(words: list[str], start: int, people: tuple[Person, ...]) -> Thing | None:
    names = {c for p in people for c in p.calls}
    lowered = [w.lower() for w in words]
    for i in range(max(start, 0), len(words)):
        if lowered[i] in _DETERMINERS:
            phrase: list[str] = []
            for w in lowered[i + 1 : i + 4]:
                if w in _STOP or w in _DETERMINERS or not w.isalpha() or w in names:
                    break
                phrase.append(w)
            if phrase:
                det = _REFERENCE.get(lowered[i], "the")
                head = phrase[-1]
                plural = len(head) > 3 and head[-1] == "s" and head[-2:] not in ("ss", "us", "is")
                return Thing(f"{det} {' '.join(phrase)}"[:40], head, plural)
    return None


def _addresses(head: str, person: Person) -> bool:
    """'Grub, ...' or 'Old Perrin: ...' speaks to them; 'I attack Grub, then ...' does not."""
    if len(head) > 60:
        return False
    words = head.lower().split()
    return (
        len(words) <= 3
        and person.named_in(head.lower())
        and not any(w in lexicon.KIND_OF or w in ("i", "you", "we") for w in words)
    )


def _speech(text: str) -> str:
    quoted = _QUOTE.search(text)
    said = quoted.group(1) if quoted else text
    said = " ".join(said.split()).strip(" \"'")
    short = _shorten(said, 50)
    if short != said:
        short += "\u2026"
    elif short and short[-1] not in ".!?\u2026":
        short += "."
    return short[:1].upper() + short[1:]


def _emoji_action(found: list[str], raw: str) -> Action:
    meanings = [lexicon.EMOJI[e] for e in found if e in lexicon.EMOJI]
    act = next((m[0] for m in meanings if m[0]), "")
    # A thing or feeling shown on its own (🔥, 😱) says more than the action's own.
    thing = next((m[1] for m in meanings if m[1] and not m[0]), "")
    thing = thing or next((m[1] for m in meanings if m[1]), "")
    mood = next((m[2] for m in reversed(meanings) if m[2]), "")
    words = act.split()
    verb = words[1] if len(words) > 1 else ""
    return Action(
        raw, "emoji", act, verb, lexicon.KIND_OF.get(verb, "other"),
        emoji_thing=thing, emoji_mood=mood,
    )  # fmt: skip


@lru_cache(maxsize=8192)
def parse(raw: str, player: str, people: tuple[Person, ...]) -> Action:
    """The player's input as an Action (pure; bounded work for any input). Cached: every
    turn reads the inputs of the turns before it again."""
    text = raw[:1000]  # enough to read an action; bounds the work for any input
    found = [] if text.isascii() else [c for c in _EMOJI.findall(text) if c not in _JOINERS]
    plain = " ".join((_EMOJI.sub(" ", text) if found else text).split())
    language = _language(plain)
    if language == "empty":
        return _emoji_action(found, raw) if found else Action(raw, "empty", "")
    if language == "foreign":
        emoji = _emoji_action(found, raw)
        return Action(raw, "foreign", emoji.clause, emoji.verb, emoji.kind,
                      emoji_thing=emoji.emoji_thing, emoji_mood=emoji.emoji_mood)  # fmt: skip
    mood = next((lexicon.EMOJI[e][2] for e in found if e in lexicon.EMOJI), "")
    # English with a few words of another script: those words are left out, not spliced.
    stripped = " ".join(_OTHER_SCRIPT.sub(" ", plain).split())
    if stripped != plain:
        words = stripped.split()
        while len(words) > 1 and words[-1].lower() in _TRAILING:
            words.pop()
        plain = " ".join(words) or "look around"
    lowered = plain.lower()
    named = [p for p in people if p.named_in(lowered)]
    target = named[0] if named else None
    # Speech: 'Mirela, give me the key' or 'Give me the key, Mirela' or 'Give me that!'.
    leading = re.match(r"([^,;:!?]{1,60})[,:]\s*(.+)", plain)
    comma = plain.rfind(",")
    said = ""
    if leading and target and _addresses(leading.group(1), target):
        said = leading.group(2)
    elif comma > 0 and target and _addresses(plain[comma + 1 :].strip(" .!?"), target):
        said = plain[:comma]
    elif _COMMAND.match(plain) and not re.match(r"(?i)(?:i|we|you)\b", plain):
        said = plain
    if said:
        return Action(raw, "en", "you say", "say", "talk", None, target, _speech(said),
                      emoji_mood=mood)  # fmt: skip
    if _QUOTE.search(plain) or plain.endswith("?"):
        outside = _QUOTE.sub(" ", plain).strip(" ,.")
        words = _rewrite(_TOKEN.findall(outside), player) if outside else ["you", "say"]
        verb, at = _verb(words)
        if verb not in lexicon.KIND_OF or lexicon.KIND_OF[verb] != "talk":
            verb = "ask" if plain.endswith("?") else "say"
            words = ["you", verb]
        return Action(raw, "en", _shorten(" ".join(words[:6]), 40), verb, "talk", None,
                      target, _speech(plain), emoji_mood=mood)  # fmt: skip
    plain = _STRAY_QUOTES.sub("", plain)
    clauses = [c for c in _CLAUSE_BREAK.split(plain.rstrip(".!")) if c.strip()] or ["look"]
    words = _rewrite(_TOKEN.findall(clauses[0]), player)
    joined = re.sub(r"\s+([,.!?;:'\u2019])", r"\1", " ".join(words)).replace(" - ", "-")
    long = len(plain) > 80 or len(clauses) > 2
    clause = _shorten(joined) if long else joined
    verb, at = _verb(words)
    kind = lexicon.KIND_OF.get(verb, "other")
    thing = _thing(words, at + 1 if at >= 0 else 1, people)
    if verb == "pick" and thing is not None and thing.head in ("lock", "locks"):
        kind = "force"
    if verb == "pick" and len(words) > at + 1 and words[at + 1].lower() == "up":
        kind = "take"
    if not verb and len(words) <= 3 and not any(w.lower() in lexicon.ENGLISH for w in words[1:]):
        return Action(raw, "en", "you say", "say", "talk", None, target, _speech(plain),
                      emoji_mood=mood)  # fmt: skip
    aside = None
    if long:
        later = " ".join(clauses[1:]).lower()
        aside = next((p for p in people if p is not target and p.named_in(later)), None)
        if aside is None and target is not None and not target.named_in(clauses[0].lower()):
            aside, target = target, None
    topic = ""
    if kind == "talk" and "about" in words:
        about = words[words.index("about") + 1 :][:5]
        while about and about[-1].lower() in _TRAILING:
            about.pop()
        topic = " ".join(w for w in about if w.isalpha() or "'" in w)
    return Action(raw, "en", clause, verb, kind, thing, target, "", emoji_mood=mood,
                  long=long, aside=aside, topic=topic)  # fmt: skip


def second_person(raw: str, player: str = "") -> str:
    """'I pry the lid off my coffin' -> 'you pry the lid off your coffin' (whole input)."""
    words = _rewrite(_TOKEN.findall(raw.strip().rstrip(".!?")), player or "\0")
    return re.sub(r"\s+([,.!?;:'\u2019])", r"\1", " ".join(words))
