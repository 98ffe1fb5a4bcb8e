"""How characters react, by mood, with their own pronouns: {Name}, {Who} (the name, maybe
with a short description), {they} {them} {their} {themself}, and verb endings that agree
with {they}: {s} {es} {is} {has} {does}."""

from __future__ import annotations

REACTIONS = {
    "hostile": (
        "{Who} bares {their} teeth and edges closer.",
        "{Name} spits at your feet, {their} hand already on {their} weapon.",
        "{Name} circles you slowly, and {they} {is} smiling, which is worse.",
        "{Name} cracks {their} knuckles one at a time, watching you.",
        "{Who} says nothing, but {their} whole body is a threat.",
        "Hatred sits plainly on {Name}'s face, and {they} {does} not bother to hide it.",
        "{Name} shifts {their} weight, ready to spring.",
        "{Name} hisses a curse and reaches for {their} weapon.",
        "{Name} watches you with open hatred, waiting for {their} moment.",
    ),
    "wary": (
        "{Who} takes half a step back, {their} eyes narrowed.",
        "{Name} says nothing, but {their} hand never strays far from {their} belt.",
        "{Name} studies you, weighing what you might do next.",
        "{Name} keeps the wall at {their} back and you in {their} sight.",
        "{Who} folds {their} arms, unconvinced.",
        "{Name}'s gaze flicks to the way out, then back to you.",
        "{Name} gives you a long, level look, and {they} {does} not blink first.",
        "{Name} tilts {their} head, as if {they} {is} trying to work out your angle.",
    ),
    "fearful": (
        "{Who} flinches, {their} back pressed to the wall.",
        "{Name} makes {themself} as small as {they} can.",
        "{Name}'s hands are shaking, though {they} {does} {their} best to hide it.",
        "{Name} edges away from you, ready to bolt.",
        "{Name} swallows hard and will not meet your eyes.",
        "{Who} whimpers and covers {their} mouth with {their} hand.",
    ),
    "friendly": (
        "{Name} grins and gives you an encouraging nod.",
        "{Who} moves to your side, {their} shoulder almost touching yours.",
        "{Name} laughs softly, clearly on your side for now.",
        "{Name} catches your eye and nods, as if {they} expected nothing less.",
        "{Name} murmurs something encouraging under {their} breath.",
        "{Who} raises {their} hand in a small salute.",
        "{Name} looks at you with open admiration, and {they} {does} not hide it.",
    ),
    "neutral": (
        "{Who} glances your way, then back to {their} own business.",
        "{Name} stops what {they} {is} doing to watch.",
        "{Name} mutters something you do not quite catch.",
        "{Name} shrugs, as if none of this concerns {them}.",
        "{Who} watches, {their} expression unreadable.",
        "{Name} scratches {their} chin and keeps {their} thoughts to {themself}.",
    ),
}

# Reactions built from a gesture (after the name) and sometimes how they do it.
REACTION_FRAMES = (
    "{Who} {gesture}.",
    "{Who} {gesture}, {tail}.",
    "At that, {Name} {gesture}.",
    "At that, {Name} {gesture}, {tail}.",
    "For a moment {Name} {gesture}, {tail}.",
    "Without a word, {Name} {gesture}.",
)
GESTURES = {
    "hostile": (
        "bares {their} teeth", "spits at your feet", "circles you slowly",
        "cracks {their} knuckles one at a time", "shifts {their} weight, ready to spring",
        "hisses a curse", "reaches for {their} weapon", "takes a step towards you",
        "grips {their} weapon until {their} knuckles whiten", "sneers at you",
        "blocks your way with {their} body", "growls low in {their} throat",
        "lets {their} hand rest on {their} blade", "looks you up and down with contempt",
    ),
    "wary": (
        "takes half a step back", "keeps {their} hand near {their} belt", "studies you",
        "keeps the wall at {their} back", "folds {their} arms", "glances towards the way out",
        "gives you a long, level look", "tilts {their} head", "narrows {their} eyes",
        "keeps {their} distance", "watches your hands, not your face",
        "shifts from foot to foot", "says nothing at all", "chews {their} lip",
    ),
    "fearful": (
        "flinches", "presses {their} back to the wall", "makes {themself} as small as {they} can",
        "edges away from you", "swallows hard", "covers {their} mouth with {their} hand",
        "stares at the floor", "trembles", "clutches {their} belongings to {their} chest",
        "backs into the shadows",
    ),
    "friendly": (
        "grins at you", "gives you an encouraging nod", "moves to your side", "laughs softly",
        "catches your eye", "murmurs something encouraging", "raises {their} hand in a salute",
        "claps you on the shoulder", "smiles, and {their} whole face softens",
        "leans in close", "gives you a thumbs-up", "winks at you",
    ),
    "neutral": (
        "glances your way", "stops what {they} {is} doing", "mutters something you miss",
        "shrugs", "watches without expression", "scratches {their} chin",
        "goes back to {their} own business", "yawns", "looks past you, at nothing",
        "drums {their} fingers", "raises an eyebrow",
    ),
}  # fmt: skip
TAILS = {
    "hostile": (
        "{their} eyes fixed on your throat", "waiting for {their} moment",
        "plainly itching for a fight", "and {their} smile is not a kind one",
        "every line of {their} body a threat", "breath hissing between {their} teeth",
    ),
    "wary": (
        "{their} eyes narrowed", "weighing what you might do next", "unconvinced",
        "{their} face giving nothing away", "as if {they} {is} working out your angle",
        "ready to run or fight",
    ),
    "fearful": (
        "{their} hands shaking", "ready to bolt", "{their} eyes wide", "breathing fast",
        "as if {they} expect{s} a blow",
    ),
    "friendly": (
        "clearly on your side", "{their} eyes warm", "as if {they} expected nothing less",
        "pleased with you", "and {their} grin is catching",
    ),
    "neutral": (
        "{their} expression unreadable", "as if none of this concerns {them}",
        "mildly curious", "keeping {their} thoughts to {themself}", "with polite disinterest",
    ),
}  # fmt: skip

# Spoken to: a line in character, then a speech tag.
SAYINGS = {
    "hostile": (
        "Take one more step and it will be your last.", "You should not have come here.",
        "Talk fast, or bleed.", "Get out of my sight.", "Is that all you have?",
        "I have buried better than you.", "Nobody leaves here without paying.",
        "You smell like a corpse that hasn't noticed yet.", "Turn around. Now.",
        "I was hoping you'd try something.",
    ),
    "wary": (
        "What do you want?", "Keep your hands where I can see them.",
        "I have heard that before.", "Say your piece, then go.", "Who sent you?",
        "Nobody down here is your friend.", "And why should I trust you?",
        "That depends on who's asking.", "I don't know you, and I like it that way.",
        "Ask me again when you've earned it.",
    ),
    "fearful": (
        "Please, I don't want any trouble.", "Don't hurt me!", "They will hear us.",
        "I'll tell you anything, just keep your voice down.", "Neither of us should be here.",
        "Is it gone? Tell me it's gone.", "I only came for the coins, I swear it.",
    ),
    "friendly": (
        "Well met, friend.", "You look like you could use a hand.", "I hoped you would come.",
        "Careful now; this place bites.", "Ask, and I'll tell you what I can.",
        "Stay close, and we'll both see daylight again.", "I've got your back.",
        "You're a welcome sight down here.",
    ),
    "neutral": (
        "As you like.", "It's no business of mine.", "Everyone wants something down here.",
        "Could be. Could be not.", "I've seen stranger things today.", "Maybe.",
        "Don't ask me; I only work here.", "Suit yourself.",
    ),
}  # fmt: skip
# Asked about something: {topic} is what the player asked about ('the old gods').
ABOUT = {
    "hostile": (
        "Ask me about {topic} again and see what happens.", "{Topic} is none of your concern.",
        "You want to know about {topic}? Pay in blood.",
    ),
    "wary": (
        "{Topic}? Not something I discuss with strangers.",
        "Why do you want to know about {topic}?",
        "I might know something about {topic}. Might.",
    ),
    "fearful": (
        "Don't speak of {topic} here!", "{Topic}? Please, not so loud.",
        "I know nothing about {topic}, nothing at all.",
    ),
    "friendly": (
        "{Topic}? Sit down, this will take a while.", "I know a little about {topic}; ask away.",
        "Ah, {topic}. Few people ask about that any more.",
    ),
    "neutral": (
        "{Topic}? Couldn't tell you.", "People say all sorts about {topic}.",
        "{Topic}. Hm. There are stories.",
    ),
}  # fmt: skip
TAGS = {
    "hostile": ("growls", "snarls", "spits"),
    "wary": ("mutters", "says flatly", "answers, after a pause"),
    "fearful": ("whispers", "stammers", "breathes"),
    "friendly": ("says warmly", "chuckles", "says with a smile"),
    "neutral": ("says", "replies with a shrug", "remarks"),
}
# {saying_} is the line as it reads before a tag ('Who sent you?', 'Suit yourself,').
SPOKEN = (
    "\u201c{saying_}\u201d {Name} {tag}.",
    "{Name} {tag}: \u201c{saying}\u201d",
    "\u201c{saying_}\u201d {Name} {tag}, {their} eyes never leaving yours.",
    "{Name} considers you for a moment. \u201c{saying}\u201d",
    "\u201c{saying_}\u201d {Name} {tag}, and {they} {does} not elaborate.",
)

# The one you attacked, by how the attack went.
STRUCK = {
    "success": (
        "{Name} staggers, clutching {their} side.",
        "{Name} cries out, more in fury than in pain.",
        "{Name} falls back, and for the first time {they} look{s} uncertain.",
    ),
    "partial": (
        "{Name} hisses, {their} sleeve darkening.",
        "{Name} shakes off the blow, but {they} {is} slower now.",
    ),
    "complication": (
        "{Name} laughs at your miss and comes on.",
        "{Name} steps inside your guard, far too close for comfort.",
    ),
}
HURT = (
    "{Name} still favours the side you wounded.",
    "{Name} keeps a hand pressed to the wound you gave {them}.",
)
# The one you gave something to, by mood.
GIFTED = {
    "hostile": ("{Name} snatches it without a word of thanks.",),
    "wary": ("{Name} takes it, suspicious, and tests it between {their} teeth.",),
    "fearful": ("{Name} takes it with trembling fingers.",),
    "friendly": ("{Name} accepts it with a warm nod and tucks it away.",),
    "neutral": ("{Name} weighs it in {their} palm, then shrugs.",),
}
# Someone who left by a decision, and is back in the scene.
RETURNED = (
    "{Name} has crept back, keeping {their} distance.",
    "{Name} is here again, though {they} {does} not come close.",
)

# Arriving somewhere: who is there.
PRESENT = (
    "{Who} is here, {presence}.",
    "You are not alone: {Who} is here, {presence}.",
    "{Name} is waiting here, {presence}.",
)
PRESENCE = {
    "hostile": ("and plainly not pleased to see you", "already on {their} feet",
                "with murder in {their} eyes"),
    "wary": ("watching you with narrowed eyes", "one hand resting near {their} belt",
             "keeping to the shadows"),
    "fearful": ("pressed into the shadows", "trembling", "as far from you as {they} can get"),
    "friendly": ("and {their} face lights up at the sight of you", "waving you over",
                 "looking relieved to see you"),
    "neutral": ("busy with {their} own affairs", "barely glancing up",
                "minding {their} own business"),
}  # fmt: skip

# Decisions: how the one deciding sees it, by the kind of option they take.
LEANINGS = {
    "aggressive": (
        "{Name} has had enough of talk.",
        "Cornered and angry, {Name} sees only one answer.",
        "{Name}'s patience snaps like a dry twig.",
        "Something hard settles in {Name}'s face.",
    ),
    "peaceful": (
        "{Name} would rather talk than bleed, and {they} {is} not ashamed of it.",
        "{Name} lowers {their} guard, just a little.",
        "{Name} sees more to gain in words than in blood.",
    ),
    "cautious": (
        "{Name} knows a losing hand when {they} see{s} one.",
        "{Name} glances at the way out, and {their} mind is made up.",
        "Staying is a gamble, and {Name} is in no mood to gamble.",
    ),
    "other": (
        "{Name} weighs the moment, {their} eyes on you.",
        "For a long heartbeat {Name} says nothing, thinking.",
        "{Name} considers {their} options in silence.",
    ),
}
CHOSEN = (
    "And so: {reason}.",
    "The choice is made: {reason}.",
    "In the end, {reason}.",
    "There is only one answer, and it is this: {reason}.",
    "It comes down to this: {reason}.",
)
MEMORY = {
    "hurt": ("{Name} has not forgotten the wound you gave {them}.",),
    "gift": ("What you gave {them} still weighs on {Name}'s mind.",),
}
NOBODY = ("The dungeon itself seems to weigh the moment.", "Fate turns the question over.")
