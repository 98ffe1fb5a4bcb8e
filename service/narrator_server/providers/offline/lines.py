"""Sentence templates of the offline narrator: the player's action, speech, input it cannot
read, long actions, facts, looking back, and the closing line."""

from __future__ import annotations

# The action, as 'you' do it. {clause} starts with "you"; {feeling} comes from the tone.
OPENERS = (
    "{Clause}.",
    "{Clause}, {feeling}.",
    "{Feeling}, {clause}.",
    "Without a second thought, {clause}.",
    "Steadying your breath, {clause}.",
    "There is nothing else for it: {clause}.",
    "Before you can think better of it, {clause}.",
    "Gathering yourself, {clause}.",
    "With a glance over your shoulder, {clause}.",
    "Not waiting to be asked twice, {clause}.",
    "{Clause}, as steadily as you can.",
    "So be it: {clause}.",
)
KIND_OPENERS = {
    "attack": ("Weapon first, {clause}.", "With a shout, {clause}.", "Fast and low, {clause}."),
    "ready": ("In one practised motion, {clause}.", "Quietly, {clause}."),
    "talk": ("Clearing your throat, {clause}.", "Keeping your voice low, {clause}."),
    "look": ("Eyes narrowed, {clause}.", "Taking your time, {clause}."),
    "listen": ("Holding your breath, {clause}.", "Very still, {clause}."),
    "move": ("Picking your way forward, {clause}.", "One careful step at a time, {clause}."),
    "force": ("Setting your shoulder to it, {clause}.", "With both hands, {clause}."),
    "stealth": ("Barely breathing, {clause}.", "Low and silent, {clause}."),
    "rest": ("For a moment, {clause}.", "Letting your guard down a little, {clause}."),
    "magic": ("Reaching for the old words, {clause}.", "Eyes closed, {clause}."),
}

# Speech: {say} is 'say' or 'ask', {to} ' to Grub' or ''; {speech} is quoted as given,
# {speech_} as it reads before 'you say' ('I only want to talk,').
SPEECH = (
    "You {say}{to}: \u201c{speech}\u201d",
    "\u201c{speech_}\u201d you {say}{to}.",
    "{Feeling}, you {say}{to}: \u201c{speech}\u201d",
    "Your voice is steady as you {say}{to}: \u201c{speech}\u201d",
    "\u201c{speech_}\u201d you {say}{to}, {feeling}.",
)

# Input in another language, or emoji only: the narrator acts on the intent, never the words.
FOREIGN = (
    "You speak in a tongue of your own, and act on it without hesitation.",
    "Words in another language leave your lips, and you move to match them.",
    "You answer the moment in your own tongue, {feeling}.",
    "What you say is not in the common tongue, but your intent is plain enough.",
    "You murmur something in a language {place} has never heard, and commit to it.",
    "In words of your own far-off tongue, you make your intention known.",
)
FOREIGN_ACT = (
    "{Act}, muttering in another tongue.",
    "Saying something in a language of your own, {act}.",
    "{Act}, words of a distant land on your lips.",
)
EMOJI_ACT = ("{Act}.", "{Act}, {feeling}.", "Without a word, {act}.")
EMOJI_MOOD = (
    "Your face says it all: {emoji_mood}.",
    "There is no hiding the {emoji_mood} in you.",
    "You let {emoji_mood} show, plain as day.",
)
EMOJI_THING = (
    "Your thoughts are full of {emoji_thing}.",
    "You cannot stop thinking about {emoji_thing}.",
)
WORDLESS = (
    "You hesitate, and the moment passes in silence.",
    "You say nothing, and do nothing, and the silence stretches.",
    "For a while you simply wait, unsure.",
)

# A long action, once its first part was told: the rest, paraphrased.
LONG = (
    "You take your time over it, thorough and careful.",
    "It is a long and careful business, and you see it through.",
    "You do all of it, step by step, missing nothing you can help.",
    "It takes a while, and you leave nothing to chance.",
)
ASIDE = (
    "All the while, you keep an eye on {Name}.",
    "Through it all, {Name} never leaves the corner of your eye.",
    "You do not forget {Name} for a moment while you work.",
)

FACTS = (
    "You do not forget that {fact}.",
    "All the while, {fact}.",
    "It does not help that {fact}.",
    "You are very aware that {fact}.",
    "Nor can you ignore that {fact}.",
    "A thought nags at you: {fact}.",
    "Everything here reminds you that {fact}.",
    "{Fact}, and you feel it.",
    "{Fact}; that much has not changed.",
)
RELEVANT_FACTS = (
    "{Fact}, which does not make this any easier.",
    "You cannot forget, here of all moments, that {fact}.",
    "It matters now that {fact}.",
    "{Fact}, and that is no small thing right now.",
)
ARRIVAL_FACTS = ("{Fact}.", "You see at once that {fact}.", "At a glance: {fact}.")
CHANGED_FACTS = ("{Changed}.", "{Changed}, thanks to you.", "Thanks to you, {changed}.")
SETTLED = (
    "{Thing} {t_has} been dealt with; you spare {it} no more thought.",
    "You have already seen to {thing}.",
)

# Looking back: {past} is 'pushed the rusted gate', {ago} 'only moments ago'.
CALLBACKS = (
    "Not long ago you {past}, and you have not forgotten it.",
    "This is not the first time: {ago}, you {past}.",
    "You remember how, {ago}, you {past}.",
    "It is hard not to think of {ago}, when you {past}.",
)
CALLBACK_PERSON = (
    "{Name} has not forgotten that you {past}.",
    "{Name} remembers that you {past}; it is there in {their} eyes.",
    "The last time you dealt with {Name}, you {past}, and {they} {has} not forgotten.",
)
RETURN_PAST = (
    "Last time you were here, you {past}.",
    "The last thing you did here was this: you {past}.",
)
AGO = {2: "only moments ago", 4: "a little while ago", 9: "much earlier"}

HOOKS = {
    "grim": (
        "What now, {player}?",
        "The dark waits for your next move.",
        "You have a heartbeat to decide what comes next.",
        "Whatever you do next, do it soon.",
        "Somewhere ahead, something is already reacting to what you did.",
        "The silence asks what you will do.",
        "Nothing here forgives hesitation, {player}.",
        "Time is not on your side.",
        "Choose, {player}, before the choice is made for you.",
        "The next move is yours, for now.",
        "Every breath you spend here costs something.",
        "You will have to do better than hope.",
        "So, {player}: what next?",
        "The dungeon is patient; you cannot afford to be.",
    ),
    "whimsical": (
        "What mischief next, {player}?",
        "The room seems to be holding its breath, possibly to stop itself laughing.",
        "Something nearby is clearly dying to know what you will do.",
        "Your move, {player}, and do make it a good one.",
        "The whole place waits, tapping its foot.",
        "Well? The story will not tell itself, {player}.",
        "Somewhere, a bard is taking notes.",
        "Adventure waits, slightly impatiently.",
        "Go on, {player}. Surprise everyone.",
        "The next bit is up to you, and nobody is quite sure what you'll do.",
    ),
    "heroic": (
        "The hour calls for you, {player}.",
        "What will you do, {player}?",
        "The tale waits for its next line, and you are the one to write it.",
        "Fortune favours the bold, and it is watching you now.",
        "Your next step will be remembered.",
        "Stand fast, {player}; the moment is yours.",
        "Somewhere, a song about this is already beginning.",
        "The road ahead is hard, and it is yours to walk.",
        "Courage, {player}. What now?",
        "Legends are made of moments like this one.",
    ),
    "eerie": (
        "Something waits to see what you do next.",
        "The quiet wants to know what you will do, {player}.",
        "You have the strangest feeling that your next move was expected.",
        "Whatever comes next, it already knows your name.",
        "The shadows lean in, listening.",
        "Be careful what you do next, {player}.",
        "The silence is the kind that waits.",
        "Somewhere close, something holds its breath along with you.",
        "Nothing moves. Nothing, yet.",
        "You are not sure the next choice is entirely your own.",
    ),
}
PERSON_HOOKS = (
    "{Name} is watching to see what you do next.",
    "{Name} waits for your next move, and so does the dark.",
    "Every eye here, {Name}'s included, is on you now.",
)

WEATHER = (
    "Even here you can feel the weather: {weather}.",
    "Somewhere above, the weather is {weather}, and the walls know it.",
)
TIME = (
    "It is {time}, and {place} feels every hour of it.",
    "The hour is {time}; it is later than you would like.",
)
