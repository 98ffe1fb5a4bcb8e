"""What the offline narrator knows of English: verbs by kind of action (with their past and
third-person forms), words that say the input is English or not, and what emoji mean."""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """The words of a text, as a set (word lists here are written as plain text)."""
    return frozenset(text.split())


# Kinds of action; each has its own outcomes (see lines.py).
_KINDS = {
    "force": "open push pull pry force break smash shove bash unlock lift heave turn "
    "untie shift wrench kick rattle tug knock slam close shut bend",
    "attack": "attack strike hit stab slash shoot fight punch kill charge swing cut slay "
    "hack tackle wrestle bite smite lunge parry duel ambush",
    "ready": "draw ready raise brandish unsheathe sharpen load nock grip wield aim",
    "move": "go walk run step enter leave climb wade swim jump cross follow crawl descend "
    "ascend head return approach row back flee retreat exit explore dive dash hurry "
    "march limp stride wander come move slip edge press leap vault sprint",
    "look": "look search examine inspect study check peer stare scan watch observe read "
    "feel touch smell sniff probe survey glance investigate count map notice spot",
    "listen": "listen hear eavesdrop",
    "talk": "talk ask say tell shout call greet whisper speak yell sing threaten persuade "
    "bargain haggle wave beg promise thank apologize apologise laugh answer reply "
    "warn insult question plead introduce hum curse joke bow nod smile",
    "take": "take grab steal pocket collect loot gather fetch snatch seize keep pick",
    "give": "give offer pay throw hand trade show toss bribe share lend",
    "use": "use pour drop put place wear equip fill ring play set light burn ignite "
    "kindle blow tie wrap hang plant bury dig mix",
    "consume": "drink eat swallow sip taste chew quaff",
    "rest": "rest sit sleep wait breathe think pray meditate kneel bandage heal tend "
    "camp lie stretch remember dream recover calm",
    "stealth": "hide sneak creep lurk crouch skulk",
    "magic": "cast chant summon invoke conjure enchant bless ward channel dispel scry",
}
KIND_OF: dict[str, str] = {verb: kind for kind, verbs in _KINDS.items() for verb in verbs.split()}
# A verb listed for a kind above may mean another with a light source as its object.
LIGHT_VERBS = frozenset({"light", "ignite", "kindle"})

_IRREGULAR_PAST = {
    "go": "went", "run": "ran", "take": "took", "give": "gave", "throw": "threw",
    "draw": "drew", "eat": "ate", "drink": "drank", "swim": "swam", "sing": "sang",
    "say": "said", "tell": "told", "hear": "heard", "hold": "held", "find": "found",
    "leave": "left", "feel": "felt", "keep": "kept", "sleep": "slept", "sit": "sat",
    "think": "thought", "fight": "fought", "strike": "struck", "hit": "hit", "cut": "cut",
    "put": "put", "set": "set", "shut": "shut", "read": "read", "come": "came",
    "slay": "slew", "bite": "bit", "lie": "lay", "light": "lit", "shoot": "shot",
    "stand": "stood", "swing": "swung", "bend": "bent", "lend": "lent", "dig": "dug",
    "seize": "seized", "spot": "spotted", "step": "stepped", "grab": "grabbed",
    "stab": "stabbed", "slip": "slipped", "map": "mapped", "nod": "nodded", "sip": "sipped",
    "hum": "hummed", "plan": "planned", "stride": "strode", "dive": "dove", "blow": "blew",
    "wear": "wore", "hang": "hung", "lead": "led", "make": "made", "see": "saw",
    "get": "got", "begin": "began", "break": "broke", "ring": "rang", "bring": "brought",
    "buy": "bought", "pay": "paid", "creep": "crept", "kneel": "knelt", "leap": "leapt",
    "win": "won", "do": "did", "have": "had", "be": "were", "know": "knew", "wake": "woke",
}  # fmt: skip


def past(verb: str) -> str:
    """'push' -> 'pushed', 'go' -> 'went', 'try' -> 'tried'."""
    if verb in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and len(verb) > 2 and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def third_person(verb: str) -> str:
    """'push' -> 'pushes', 'go' -> 'goes', 'try' -> 'tries' (for he, she, it)."""
    if verb in ("be", "are"):
        return "is"
    if verb == "have":
        return "has"
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 2 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


# The base form of a verb written in the third person ('opens' -> 'open').
BASE_OF: dict[str, str] = {third_person(v): v for v in KIND_OF}

# Words that only English uses (articles, pronouns, prepositions, auxiliaries): with the
# verbs above they tell English input from other languages written in the Latin alphabet.
ENGLISH = words(
    """
    the a an and or but to of in on at by for with from into onto over under through
    towards toward behind near up down out off around about again back away then so i
    me my mine myself you your we us our he him his she her they them their it its this
    that these those is am are was were be been do does did will would can could should
    must may might not no yes what who where why how when which there here all some any
    every each one two three very just now still also too only more most much many if as
    while once hello hi please thanks north south east west left right slowly quickly
    carefully quietly softly gently anything something nothing everything door gate
    wall floor room water fire sword shield torch book key chest light dark help stone
    """
)
# Frequent words of other languages written in Latin letters (French, Spanish, Italian,
# Portuguese, German, Dutch): their presence with few English words says "not English".
FOREIGN = words(
    """
    je tu il elle nous vous ils elles le la les un une des du de et est mon ma mes ton ta
    tes son sa ses avec dans sur pour pas que qui où ce cette je suis ai vais veux moi
    el los las y es en con por para mi mis yo tú su sus del al una uno quiero voy donde
    dónde está esta estoy necesito ahora aquí salir puerta espada
    il lo gli della sono non che per io mio mia voglio dove
    eu meu minha não uma com para onde quero
    ich du er sie wir ihr der die das ein eine und ist nicht mit auf zu mein meine ich
    bin will wo gehe öffne tür schwert
    ik jij wij het een en niet met op mijn wil waar
    """
)

# What an emoji means to a narrator: an action ("you ..."), a thing, or a feeling.
EMOJI: dict[str, tuple[str, str, str]] = {
    "🗡": ("you ready your blade", "steel", "resolve"),
    "⚔": ("you raise your weapon", "steel", "fury"),
    "🔪": ("you slide a knife into your hand", "a knife", "menace"),
    "🏹": ("you nock an arrow", "an arrow", "focus"),
    "🛡": ("you raise your guard", "a shield", "caution"),
    "🔥": ("", "fire", "heat"),
    "💥": ("you strike hard", "a crash", "violence"),
    "🏃": ("you break into a run", "", "haste"),
    "👀": ("you look around", "", "curiosity"),
    "👁": ("you watch closely", "", "suspicion"),
    "👂": ("you listen", "", "attention"),
    "🤝": ("you offer your hand", "", "goodwill"),
    "👋": ("you wave", "", "friendliness"),
    "🙏": ("you bow your head in prayer", "", "hope"),
    "💰": ("you show your coin", "coin", "greed"),
    "🪙": ("you flip a coin", "a coin", "chance"),
    "🚪": ("you try the door", "a door", "curiosity"),
    "🔑": ("you reach for a key", "a key", "hope"),
    "🗝": ("you reach for a key", "an old key", "hope"),
    "🍺": ("you raise a drink", "ale", "cheer"),
    "🍷": ("you raise a cup", "wine", "ease"),
    "🧪": ("you uncork a vial", "a potion", "risk"),
    "📜": ("you unroll a scroll", "a scroll", "study"),
    "📖": ("you open a book", "a book", "study"),
    "🕯": ("you lift a candle", "candlelight", "calm"),
    "💀": ("", "bones", "dread"),
    "☠": ("", "death", "dread"),
    "👻": ("", "a ghost", "dread"),
    "🐉": ("", "a dragon", "awe"),
    "🌊": ("", "water", "unease"),
    "💧": ("", "water", "thirst"),
    "🌙": ("", "the moon", "stillness"),
    "⭐": ("", "starlight", "wonder"),
    "✨": ("", "a glimmer", "wonder"),
    "❤": ("", "", "love"),
    "💔": ("", "", "grief"),
    "😱": ("", "", "terror"),
    "😨": ("", "", "fear"),
    "😡": ("", "", "rage"),
    "😠": ("", "", "anger"),
    "😂": ("you laugh", "", "mirth"),
    "😄": ("you grin", "", "delight"),
    "😢": ("", "", "sorrow"),
    "🤔": ("you think it over", "", "doubt"),
    "😴": ("you rest your eyes", "", "weariness"),
    "🤫": ("you keep very quiet", "", "stealth"),
    "👊": ("you throw a punch", "", "fury"),
    "✋": ("you raise a hand", "", "caution"),
}
