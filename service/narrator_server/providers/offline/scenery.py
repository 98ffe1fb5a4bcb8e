"""What places look, sound and smell like, by theme, and the tones' moods."""

from __future__ import annotations

THEME_WORDS = {
    "water": "flooded flood sunken sunk water river sea canal dock docks pier lake well rain "
    "drowned harbor harbour sewer sewers cistern marsh swamp bath baths wet tide shore boat",
    "fire": "forge fire furnace brazier hearth ember embers lava smithy kitchen candle candles "
    "torch torches burning",
    "books": "library book books archive archives scroll scrolls study scriptorium shelves",
    "shrine": "shrine temple altar idol chapel church crypt tomb tombs grave graves sanctum "
    "ossuary catacomb catacombs mausoleum",
    "cave": "cave cavern tunnel tunnels mine grotto burrow pit chasm",
    "forest": "forest wood woods grove tree trees glade thicket jungle",
    "street": "street streets city market alley square town village",
    "tavern": "tavern inn alehouse taproom pub",
    "hall": "hall throne palace castle keep tower ballroom gallery manor",
}
THEME_OF = {w: theme for theme, words in THEME_WORDS.items() for w in words.split()}

# Per theme: light, sound, smell, touch (what is underfoot or around), passing moments.
SENSES: dict[str, dict[str, tuple[str, ...]]] = {
    "water": {
        "light": ("the grey, wavering light off the water", "a drowned green gloom",
                  "the pale shimmer of light on ripples"),
        "sound": ("water dripping somewhere unseen", "the slap of water against stone",
                  "a slow gurgle from somewhere below", "the hollow echo of every drop"),
        "smell": ("wet stone and old rope", "silt and rot", "brine and mildew"),
        "touch": ("the slick stones underfoot", "the cold, silty bottom",
                  "the slimy steps"),
        "moment": (
            "A drop of cold water finds the back of your neck.",
            "Something brushes past your leg beneath the surface and is gone.",
            "Ripples spread from nowhere and fade against the walls.",
            "A bubble rises from the depths and breaks with a soft pop.",
            "The water level creeps up a finger's width, or seems to.",
            "A dead leaf turns slow circles on the surface.",
        ),
    },
    "fire": {
        "light": ("the restless orange glow of the flames", "a ruddy, flickering light",
                  "the dance of firelight on the walls"),
        "sound": ("the crackle and hiss of flame", "the tick of cooling metal",
                  "the low roar of a draught feeding the fire"),
        "smell": ("smoke and hot wax", "scorched iron", "tallow and ash"),
        "touch": ("the warm flagstones", "the soot-black floor", "the gritty ash underfoot"),
        "moment": (
            "A spark leaps, drifts and winks out at your feet.",
            "A flame bows low as if a door opened somewhere.",
            "Wax drips and hardens in a long white tear.",
            "A log settles with a sigh and a shower of embers.",
            "Heat shimmers over the flames and bends the far wall.",
        ),
    },
    "books": {
        "light": ("a dusty, slanting light", "the faint glow of a single lamp",
                  "a brown, tea-coloured dimness"),
        "sound": ("pages stirring in a draught", "the creak of overloaded shelves",
                  "the patient ticking of a clock somewhere"),
        "smell": ("old paper and lamp oil", "leather and damp vellum", "ink and dust"),
        "touch": ("the warped floorboards", "drifts of fallen pages", "the threadbare rugs"),
        "moment": (
            "A loose page slides from a shelf and sails to the floor.",
            "Dust rises where you step and hangs glittering in the air.",
            "A book on a high shelf tilts, thinks better of it, and stays.",
            "Somewhere a spine cracks, like a knuckle.",
            "A moth rises from between two volumes and flutters into the dark.",
        ),
    },
    "shrine": {
        "light": ("the thin light of votive candles", "a hushed, golden half-light",
                  "shafts of dusty light from high slits"),
        "sound": ("a faint echo of old chanting", "the hush of a held breath",
                  "the soft tick of cooling wax"),
        "smell": ("incense gone stale", "cold wax and old offerings", "myrrh and damp stone"),
        "touch": ("the worn flagstones", "the cold floor worn smooth by kneeling",
                  "the steps hollowed by pilgrims"),
        "moment": (
            "A candle gutters, though there is no draught.",
            "Something small falls from the altar and rolls to a stop.",
            "The echo of your step returns a moment too late.",
            "A trail of smoke rises straight up, then bends towards you.",
            "For a heartbeat you are sure the idol's eyes were elsewhere.",
        ),
    },
    "cave": {
        "light": ("a thin, cold light from cracks above", "a darkness your eyes barely beat",
                  "the faint glow of something growing on the rock"),
        "sound": ("the deep, slow breath of wind through stone", "distant falling pebbles",
                  "a drip that echoes far too long"),
        "smell": ("cold mineral air", "bat droppings and wet earth", "sulphur and stone"),
        "touch": ("the loose scree underfoot", "the rough, cold rock", "the uneven ground"),
        "moment": (
            "A pebble skitters down a slope and clicks into silence.",
            "A breath of colder air passes, as if something large moved far off.",
            "Your hand comes away from the wall wet and faintly glowing.",
            "Something with too many wings flickers past your face.",
        ),
    },
    "forest": {
        "light": ("green light sifting through the leaves", "a dappled, shifting light",
                  "a twilight under the canopy"),
        "sound": ("the hush of wind in high branches", "birdsong that stops and starts",
                  "the creak of old trunks"),
        "smell": ("leaf mould and pine", "wet bark and moss", "wild garlic and earth"),
        "touch": ("the soft loam underfoot", "the roots that snake across the path",
                  "the thick carpet of needles"),
        "moment": (
            "A bird bursts from the undergrowth and is gone.",
            "A branch drops somewhere off to your left.",
            "A spider's thread catches the light across your path.",
            "Leaves turn over in a sudden breeze, showing their pale undersides.",
        ),
    },
    "street": {
        "light": ("the smoky light of street lanterns", "the grey light of a low sky",
                  "lamplight pooling between the shadows"),
        "sound": ("distant voices and a barking dog", "the rattle of a cart somewhere",
                  "shutters banging in the wind"),
        "smell": ("wet cobbles and woodsmoke", "the gutter and fried fish", "horses and rain"),
        "touch": ("the uneven cobbles", "the muddy flagstones", "the worn steps"),
        "moment": (
            "A shutter slams somewhere above you.",
            "A cat watches you from a doorway, then loses interest.",
            "Someone laughs in a nearby alley and falls silent.",
            "A gust of wind chases a scrap of paper past your boots.",
        ),
    },
    "tavern": {
        "light": ("the warm glow of the hearth", "smoky lamplight", "the amber light of oil lamps"),
        "sound": ("the murmur of a dozen conversations", "the clink of tankards",
                  "an off-key fiddle in the corner"),
        "smell": ("ale and woodsmoke", "roasting meat and spilled beer", "pipe smoke and wet wool"),
        "touch": ("the sticky floorboards", "the sawdust on the floor", "the worn benches"),
        "moment": (
            "Someone at the bar laughs too loudly and is shushed.",
            "A tankard slams down on a table nearby.",
            "The door opens, lets in a gust of cold air, and bangs shut.",
            "A serving girl squeezes past with a tray held high.",
        ),
    },
    "hall": {
        "light": ("the light of high, grimy windows", "a cold grandeur of shadow",
                  "the gleam of old gilt in the gloom"),
        "sound": ("the echo of your own footsteps", "a banner stirring high above",
                  "a door closing somewhere deep in the building"),
        "smell": ("dust and old velvet", "cold stone and beeswax", "mildew behind the grandeur"),
        "touch": ("the cold marble floor", "the faded carpet", "the chequered tiles"),
        "moment": (
            "A painted face on the wall seems to follow you.",
            "Dust sifts down from the rafters in a thin grey veil.",
            "Far above, something settles with a creak.",
            "Your reflection passes across a tarnished mirror, a little behind you.",
        ),
    },
    "stone": {
        "light": ("a grey half-light", "a thin, sourceless gloom",
                  "the last of the light from the way you came"),
        "sound": ("your own breathing", "the faint scrape of something far away",
                  "old stone settling in the dark"),
        "smell": ("dust and old stone", "damp mortar", "something long dead, faintly"),
        "touch": ("the cracked flagstones", "the gritty floor", "the broken paving"),
        "moment": (
            "Grit trickles from a crack overhead.",
            "A draught from nowhere lifts the hair on your arms.",
            "Somewhere, a stone shifts and settles.",
            "Your own footsteps come back to you, slightly out of step.",
        ),
    },
}  # fmt: skip

TONE_WORDS = {
    "grim": "grim dark gritty grimdark bleak noir brutal tragic serious",
    "whimsical": "whimsical funny silly comic comedy cozy cosy light lighthearted playful",
    "heroic": "heroic epic high adventure adventurous noble heroic bright",
    "eerie": "eerie horror creepy gothic mysterious mystery haunting haunted uncanny",
}
TONE_OF = {w: tone for tone, words in TONE_WORDS.items() for w in words.split()}

MOODS: dict[str, dict[str, tuple[str, ...]]] = {
    "grim": {
        "air": ("cold and stale", "thick with rot", "heavy with old blood", "bitter with ash",
                "damp and sour", "close and airless"),
        "mood": ("dread", "a slow, sinking certainty", "the weight of old deaths",
                 "a tired sort of fear", "the memory of every wound you carry",
                 "the sense that this place has buried braver people"),
        "feeling": ("your heart pounding", "a knot in your stomach", "jaw clenched",
                    "every muscle tense", "breath held", "grim as a gravedigger"),
    },
    "whimsical": {
        "air": ("sweet with spilled cider", "fizzing faintly", "smelling of burnt toffee",
                "warm as a teapot", "ticklish with pollen", "oddly cheerful"),
        "mood": ("mischief", "a suspicious amount of delight", "the promise of nonsense",
                 "the urge to giggle", "the feeling that the room is in on a joke",
                 "a distinctly tea-time sort of danger"),
        "feeling": ("grinning despite yourself", "one eyebrow raised", "humming under your breath",
                    "with a little flourish", "trying very hard to look serious",
                    "with the air of someone who has read the instructions"),
    },
    "heroic": {
        "air": ("sharp and clean", "charged like the moment before a storm", "bright with resolve",
                "cold and clear as a mountain morning", "ringing with echoes"),
        "mood": ("resolve", "the thrill of a legend in the making", "fierce hope",
                 "the steady courage of those who came before", "a song waiting to be sung",
                 "the certainty that this moment matters"),
        "feeling": ("head high", "heart steady", "shoulders squared", "with a warrior's calm",
                    "eyes bright", "without a flicker of doubt"),
    },
    "eerie": {
        "air": ("too still", "faintly perfumed, like a funeral", "colder with every breath",
                "thin and whispering", "heavy, like the air before a scream"),
        "mood": ("unease", "the sense of being watched", "a wrongness you cannot name",
                 "the feeling that the walls are listening", "a cold, creeping doubt",
                 "the suspicion that you have been here before"),
        "feeling": ("skin prickling", "breath shallow", "hairs rising on your neck",
                    "fighting the urge to look behind you", "pulse loud in your ears",
                    "as quietly as you can"),
    },
}  # fmt: skip

LIGHT_FRAMES = (
    "{Light} barely reaches the corners of {place}.",
    "Shadows stretch and shrink in {light}.",
    "In {light}, every shape seems to be waiting.",
    "{Light} makes distances hard to judge.",
    "Your shadow moves in {light} a moment after you do.",
    "{Light} catches on something wet and is gone again.",
    "The far end of {place} is lost beyond {light}.",
    "By {light}, your own hands look like a stranger's.",
)
SOUND_FRAMES = (
    "Somewhere beyond sight: {sound}.",
    "Under everything, {sound}.",
    "You hear {sound}, and then you hear it again.",
    "{Sound} fills the pause that follows.",
    "The only answer is {sound}.",
    "Once you notice {sound}, you cannot stop hearing it.",
    "{Sound} goes on, indifferent to you.",
    "Between your heartbeats comes {sound}.",
)
SMELL_FRAMES = (
    "The air smells of {smell}.",
    "Every breath tastes of {smell}.",
    "The smell of {smell} is stronger here.",
    "A smell of {smell} clings to your clothes.",
    "You breathe in {smell} and try not to think about it.",
)
AIR_FRAMES = (
    "The air in {place} is {air}, and {mood} settles over you.",
    "The air is {air}; {mood} gathers at the edges of your thoughts.",
    "{Mood} creeps in with every breath.",
    "Here the air is {air}, and it brings {mood} with it.",
)
TOUCH_FRAMES = (
    "Your boots find {touch}, and you test each step.",
    "You keep your weight low on {touch}.",
    "Every step on {touch} is a small negotiation.",
)
ARRIVAL_FRAMES = (
    "{Place} opens around you: {light}, {sound}, and the smell of {smell}.",
    "You take in {place}: {light} over {touch}, and {sound}.",
    "This is {place}, lit by {light}, where the air smells of {smell}.",
    "{Place} is {air}, lit by {light}.",
    "Here you find {light}, {touch}, and {sound}.",
    "You stand in {place}: {sound}, {light}, air {air}.",
)
RETURN_FRAMES = (
    "You are back in {place}; {light} is just as you left it.",
    "{Place} again, and {sound}, as before.",
    "Nothing in {place} has changed since you were last here; the air still smells of {smell}.",
    "Back in {place}, you know {touch} and {light} like an old acquaintance.",
)
