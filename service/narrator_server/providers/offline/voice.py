"""Word pools of the offline narrator, by tone and by a character's disposition."""

from __future__ import annotations

TONES: dict[str, dict[str, tuple[str, ...]]] = {
    "grim": {
        "air": ("cold and stale", "thick with rot", "heavy with old blood", "bitter with ash"),
        "sound": (
            "water dripping somewhere unseen",
            "a distant, wet scraping",
            "your own heartbeat",
        ),
        "light": ("guttering torchlight", "a sickly grey gloom", "shadows that cling too close"),
        "mood": ("dread", "a slow, sinking certainty", "the weight of old deaths"),
    },
    "whimsical": {
        "air": ("sweet with spilled cider", "fizzing faintly", "smelling of burnt toffee"),
        "sound": ("a kettle whistling off-key", "giggling from nowhere", "a cheerful creak"),
        "light": ("lantern light the colour of marmalade", "dancing motes", "a rainbow smear"),
        "mood": ("mischief", "a suspicious amount of delight", "the promise of nonsense"),
    },
    "heroic": {
        "air": ("sharp and clean", "charged like the moment before a storm", "bright with resolve"),
        "sound": ("a banner snapping in the wind", "steel ringing far off", "a distant war horn"),
        "light": (
            "golden light through the dust",
            "the gleam of old armour",
            "a shaft of sunlight",
        ),
        "mood": ("resolve", "the thrill of a legend in the making", "fierce hope"),
    },
    "eerie": {
        "air": ("too still", "faintly perfumed, like a funeral", "colder with every breath"),
        "sound": ("whispers that stop when you listen", "a music box far away", "nothing at all"),
        "light": ("a pale light with no source", "candles that do not flicker", "blue-black dusk"),
        "mood": ("unease", "the sense of being watched", "a wrongness you cannot name"),
    },
}
TONES["dark"] = TONES["grim"]
TONES["horror"] = TONES["eerie"]
TONES["epic"] = TONES["heroic"]
TONES["funny"] = TONES["whimsical"]
DEFAULT_TONE = "grim"

OPENINGS = (
    "{Clause}.",
    "Without a second thought, {clause}.",
    "Steadying your breath, {clause}.",
    "Slowly, carefully, {clause}.",
    "With more confidence than you feel, {clause}.",
    "{Clause}, every muscle tense.",
)

PLACES = (
    "{Location} is {air}, and you hear {sound}.",
    "Around you, {location} lies in {light}; the air is {air}.",
    "In {location}, {sound} fills the pause that follows.",
    "Under {light}, {location} seems to hold its breath, and {mood} settles over you.",
)

OUTCOMES = {
    "success": (
        "It works: the {thing} yields to you, and for a moment the way ahead seems clear.",
        "You feel it go right, the {thing} answering exactly as you hoped.",
        "Against the odds, the {thing} gives you what you wanted.",
    ),
    "partial": (
        "It half works: the {thing} shifts, but not without a price you will feel later.",
        "Something gives, though the {thing} keeps a secret back from you.",
        "You manage it, barely, and the {thing} leaves you breathing hard.",
    ),
    "complication": (
        "Then the {thing} betrays you with a sound far too loud for this place.",
        "The {thing} resists, and in the struggle something else stirs.",
        "Too late, you notice the {thing} was not what it seemed.",
    ),
}

PLAIN_OUTCOMES = {
    "success": (
        "It works, and for a moment the way ahead seems clear.",
        "You feel it go right, exactly as you hoped.",
    ),
    "partial": (
        "It half works, though not without a price you will feel later.",
        "You manage it, barely, and it leaves you breathing hard.",
    ),
    "complication": (
        "Then something goes wrong, with a sound far too loud for this place.",
        "Too late, you notice that nothing here is what it seemed.",
    ),
}

REACTIONS = {
    "hostile": (
        "{Name} bares their teeth and edges closer, {description}.",
        "{Name} hisses a curse and reaches for a weapon.",
        "{Name} watches you with open hatred, waiting for a mistake.",
    ),
    "wary": (
        "{Name} takes half a step back, eyes narrowed.",
        "{Name} says nothing, but their hand never strays far from their belt.",
        "{Name} studies you, {description}, weighing what you might do next.",
    ),
    "friendly": (
        "{Name} grins and gives you an encouraging nod.",
        "{Name} murmurs, \u201cWell done,\u201d and moves to your side.",
        "{Name} laughs softly, {description}, clearly on your side for now.",
    ),
    "neutral": (
        "{Name} glances your way, {description}.",
        "{Name} stops what they are doing to watch.",
        "{Name} mutters something you do not quite catch.",
    ),
}

FACTS = (
    "You do not forget that {fact}.",
    "A thought nags at you: {fact}.",
    "Everything here reminds you that {fact}.",
)

HOOKS = (
    "What do you do, {player}?",
    "The moment hangs, waiting for your next move.",
    "Somewhere ahead, something is already reacting to what you did.",
    "You have a heartbeat to decide what comes next.",
)

DISPOSITION_WORDS = {
    "hostile": ("hostile", "angry", "enemy", "aggressive", "furious", "hateful"),
    "friendly": ("friendly", "ally", "kind", "warm", "loyal", "helpful"),
    "wary": ("wary", "suspicious", "nervous", "cautious", "afraid", "scared"),
}
