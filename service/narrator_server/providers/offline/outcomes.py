"""How an action turns out, by kind of action and fate (success, partial, complication).

Slots: {thing}/{Thing} (what is acted on, with its determiner, or the kind's default),
{t_s}/{t_is}/{t_has}/{it}/{its} (agreement with it), {place}, {sound}, {touch}, {find},
{foe}/{Foe} (whoever or whatever an attack is aimed at).
"""

from __future__ import annotations

OUTCOMES: dict[str, dict[str, tuple[str, ...]]] = {
    "force": {
        "success": (
            "{Thing} give{t_s} way with a long groan.",
            "With one hard effort {thing} yield{t_s}, and the way is yours.",
            "Something inside {thing} snaps, and {it} swing{t_s} free.",
            "{Thing} shudder{t_s}, resist{t_s} for a heartbeat, then give{t_s} in.",
            "You feel {thing} surrender all at once, almost too easily.",
            "Grit showers down as {thing} finally move{t_s}.",
        ),
        "partial": (
            "{Thing} shift{t_s} a hand's breadth and stick{t_s} fast.",
            "{Thing} give{t_s} a little, grudgingly, and your shoulder pays for it.",
            "You win an inch from {thing}, no more, and your palms are raw.",
            "{Thing} groan{t_s} but hold{t_s}; one more try might do it.",
            "Half of {thing} moves; the other half seems to have its own opinion.",
        ),
        "complication": (
            "{Thing} refuse{t_s} to move, and the noise of your effort rolls away into the dark.",
            "{Thing} hold{t_s} firm, and something somewhere answers the racket you made.",
            "Your grip slips on {thing}, and you go down hard on {touch}.",
            "{Thing} will not budge, and a sharp edge opens a thin cut across your hand.",
            "The effort against {thing} gets you nothing but a wrenched wrist.",
        ),
    },
    "attack": {
        "success": (
            "Your blow lands squarely, and {foe} reels back.",
            "You find the gap you were looking for; {foe} did not see it coming.",
            "Steel meets {foe} with an ugly sound, and the fight tilts your way.",
            "You strike fast and low, and {foe} staggers.",
            "The attack is clean, brutal and over almost before it began.",
        ),
        "partial": (
            "You catch {foe} a glancing blow, and take one in return.",
            "The strike lands, but not where you meant it to.",
            "You drive {foe} back a step, and your own arm goes numb from the shock.",
            "{Foe} twists aside at the last moment; you draw blood, barely.",
        ),
        "complication": (
            "{Foe} slips past your swing, and you are off balance.",
            "Your attack goes wide, and {foe} is suddenly far too close.",
            "You lunge, your footing fails on {touch}, and the moment is lost.",
            "The blow glances off harmlessly, and now {foe} knows exactly what you intend.",
        ),
    },
    "ready": {
        "success": (
            "The familiar weight settles into your hand, steady and sure.",
            "{Thing} comes free without a sound, ready for whatever comes.",
            "You are ready now, and anyone watching can see it.",
            "Your fear narrows to a point, and the point is {thing}.",
        ),
        "partial": (
            "{Thing} catches for a heartbeat before it comes free.",
            "You are ready, though your hands are not as steady as you would like.",
            "It takes longer than it should, and the delay feels enormous.",
        ),
        "complication": (
            "{Thing} snags, and the scrape of it is loud in {place}.",
            "Your fingers fumble, and {thing} nearly slips from your grasp.",
            "The motion is too loud, too obvious; you have announced yourself.",
        ),
    },
    "move": {
        "success": (
            "The way opens before you, and you make it without trouble.",
            "You move quickly and surely, every step landing where you want it.",
            "You cover the ground faster than you expected.",
            "Step by step you make your way, and nothing stops you.",
            "You manage it without incident, breathing only a little harder.",
        ),
        "partial": (
            "You manage it, though you nearly lose your feet on {touch}.",
            "It is slower going than you hoped, and it leaves you winded.",
            "You make it, but not quietly.",
            "Halfway through you have to stop and pick a new path.",
        ),
        "complication": (
            "A misstep sends you stumbling, and a sharp sound carries far.",
            "The way is worse than it looked, and you are forced to turn back once.",
            "You lose your footing on {touch} and land hard.",
            "Something shifts underfoot as you move, and you freeze, listening.",
        ),
    },
    "look": {
        "success": (
            "Your patience is rewarded: you find {find}.",
            "There, half hidden, you spot {find}.",
            "You notice what others would have missed: {find}.",
            "A closer look at {thing} turns up {find}.",
            "Under your eye, {thing} give{t_s} up a small secret: {find}.",
        ),
        "partial": (
            "You find something, {find}, though what it means is far from clear.",
            "{Thing} tell{t_s} you little, except that you are not the first to look.",
            "Your search turns up {find}, and a question you cannot answer.",
            "You learn enough to be uneasy and not enough to be sure.",
        ),
        "complication": (
            "You find nothing, and while you look, something else finds you.",
            "Your search is loud in the stillness, and the stillness notices.",
            "Whatever was here is gone; fresh marks show someone took it before you.",
            "You lean close to {thing}, and something many-legged runs across your hand.",
        ),
    },
    "listen": {
        "success": (
            "Beneath {sound} you make out something else: slow, careful footsteps.",
            "You hold your breath and hear it clearly: voices, two at least, not far off.",
            "Past {sound}, the place tells you where the way out lies.",
        ),
        "partial": (
            "There is something beneath {sound}, but it stops whenever you strain for it.",
            "You hear enough to know you are not alone, and no more.",
            "A faint sound comes and goes, too faint to place.",
        ),
        "complication": (
            "All you hear is {sound}, and your own pulse, far too loud.",
            "The silence that answers you is the wrong kind of silence.",
            "While you listen, the sound you were waiting for stops, as if it heard you first.",
        ),
    },
    "talk": {
        "success": (
            "Your words carry, and for once they land exactly as you meant them.",
            "Your voice is steadier than you feel, and it does its work.",
            "What you say hangs in the air, and it is the right thing to have said.",
        ),
        "partial": (
            "Your words come out rougher than you intended, but they are heard.",
            "You are heard; whether you are believed is another matter.",
            "Your voice echoes back at you from {place}, oddly changed.",
        ),
        "complication": (
            "Your voice carries much farther than you wanted.",
            "The words are barely out before you wish them back.",
            "Your voice cracks at the worst moment.",
        ),
    },
    "take": {
        "success": (
            "{Thing} {t_is} yours, heavier than {it} looked.",
            "You take {thing} cleanly; no one could have done it better.",
            "{Thing} come{t_s} away in your hands without a fight.",
            "You close your fingers around {thing}, and {it} feel{t_s} like a promise.",
        ),
        "partial": (
            "You get {thing}, but not without disturbing what lay around {it}.",
            "{Thing} come{t_s} free at the second try, with a scrape that makes you wince.",
            "You have {thing}, though {it} {t_is} not quite what you expected.",
        ),
        "complication": (
            "{Thing} slip{t_s} from your grip and clatter{t_s} away across {touch}.",
            "The moment you touch {thing}, something nearby clicks.",
            "{Thing} {t_is} stuck fast, and your tugging is far from quiet.",
        ),
    },
    "give": {
        "success": (
            "{Thing} change{t_s} hands, and the mood changes with {it}.",
            "Your offer is taken, and something in the air loosens.",
            "{Thing} land{t_s} exactly where you meant {it} to.",
        ),
        "partial": (
            "{Thing} {t_is} taken, though with more suspicion than thanks.",
            "Your gift is accepted, grudgingly, and weighed twice.",
            "{Thing} fall{t_s} short, and has to be picked up again.",
        ),
        "complication": (
            "{Thing} go{t_es} astray and vanish{t_es} into the dark.",
            "Your offer is met with a long, cold stare.",
            "{Thing} {t_is} snatched up far too eagerly, and you wonder what you just paid for.",
        ),
    },
    "use": {
        "success": (
            "It works exactly as you hoped.",
            "{Thing} answer{t_s} you, and the moment is yours.",
            "You put {thing} to good use, quickly and without fuss.",
        ),
        "partial": (
            "{Thing} do{t_es} what you wanted, mostly.",
            "It works, after a fashion, and at a cost you will count later.",
            "{Thing} serve{t_s}, though not quite the way you planned.",
        ),
        "complication": (
            "{Thing} fail{t_s} you at the worst possible moment.",
            "Something about {thing} goes wrong, loudly.",
            "You fumble with {thing}, and the delay costs you.",
        ),
    },
    "light": {
        "success": (
            "The flame catches and grows, and the dark draws back from you.",
            "Light blooms in your hands, and {place} takes on new shapes.",
            "The fire takes at once, warm and steady.",
        ),
        "partial": (
            "The flame sputters, nearly dies, then clings on, small and blue.",
            "You coax a weak light out of it; it will have to do.",
        ),
        "complication": (
            "The spark dies, and the dark seems thicker for it.",
            "It flares too bright and too sudden, announcing you to anything watching.",
        ),
    },
    "consume": {
        "success": (
            "It goes down well, and warmth spreads through your chest.",
            "You feel better at once, steadier and clearer.",
            "It tastes of nothing much, which is the best you could have hoped for.",
        ),
        "partial": (
            "It tastes foul, but your head clears a little.",
            "It does you some good, and your stomach complains about the rest.",
        ),
        "complication": (
            "It tastes wrong, very wrong, and the world tilts for a moment.",
            "You cough half of it back up, loudly.",
        ),
    },
    "rest": {
        "success": (
            "For a few breaths the world asks nothing of you, and some strength returns.",
            "Your heartbeat slows, and your thoughts settle into order.",
            "It is a small mercy, but you feel steadier for it.",
            "You let the stillness work on you, and it does.",
        ),
        "partial": (
            "You find a little rest, though part of you stays listening.",
            "The pause helps, a little; your aches do not forget themselves.",
            "You steady yourself, though the moment is shorter than you wanted.",
        ),
        "complication": (
            "The stillness does not last: something moves nearby.",
            "You are given no peace; {sound} grows louder and closer.",
            "Your thoughts keep circling back to the dark, and no rest comes.",
        ),
    },
    "stealth": {
        "success": (
            "You become part of the shadows, and nothing notices.",
            "You make no sound at all, and the dark keeps your secret.",
            "You vanish from sight so well that you almost fool yourself.",
        ),
        "partial": (
            "You are hidden, mostly, though your breathing sounds loud to you.",
            "You find cover, but it is thinner than you would like.",
        ),
        "complication": (
            "Your foot finds the one loose stone in {place}.",
            "The shadow you chose is already taken by something else.",
        ),
    },
    "magic": {
        "success": (
            "Power answers your call, and the air tastes of lightning.",
            "The words take hold, and {place} shivers in response.",
            "Something vast and patient listens, and grants what you ask.",
        ),
        "partial": (
            "The power comes, but thinly, and leaves you cold and shaking.",
            "The spell half takes, its edges fraying as you watch.",
        ),
        "complication": (
            "The power answers, but not the way you asked, and not only to you.",
            "The words twist in your mouth, and something on the other side laughs.",
        ),
    },
    "other": {
        "success": (
            "It goes better than you dared to hope.",
            "It works, and for a moment the way ahead seems clear.",
            "Luck, or skill, is with you this time.",
            "It is done, cleanly, and you allow yourself a breath.",
        ),
        "partial": (
            "It half works, though not without a price you will feel later.",
            "You manage it, barely, and it leaves you breathing hard.",
            "Something gives, though {place} keeps a secret back from you.",
        ),
        "complication": (
            "Then something goes wrong, with a sound far too loud for this place.",
            "Too late, you notice that nothing here is quite what it seemed.",
            "It goes badly, and the dark seems to lean closer to watch.",
        ),
    },
}

# A thing already opened (or taken) this visit: no fight left in it.
ALREADY = {
    "force": (
        "{Thing} {t_has} already given way, and {it} stand{t_s} open just as you left {it}.",
        "There is no fight left in {thing}; {it} yielded to you already.",
        "{Thing} offer{t_s} no resistance now; that battle is won.",
    ),
    "take": (
        "{Thing} {t_is} already yours, safe where you stowed {it}.",
        "You already have {thing}; {it} {t_is} not going anywhere.",
    ),
}

# What a search can turn up, by the place's theme.
FINDS = {
    "water": (
        "a drowned purse, its coins green with age", "a key on a rotted string",
        "tally marks scratched below the waterline", "a lantern wedged between two stones",
        "a smuggler's mark, fresh, chalked on the wall",
    ),
    "fire": (
        "a half-burnt letter in the ashes", "a ring of soot shaped like a hand",
        "a stub of black candle, still warm", "a cache of flints in a wax-sealed pouch",
    ),
    "books": (
        "a page torn from a ledger of debts", "a map pressed between two pages",
        "a name underlined three times in red", "a bookmark of braided hair",
    ),
    "shrine": (
        "an offering bowl holding a single tooth", "words scratched into the base of the altar",
        "a hidden niche behind a loose carving", "a pilgrim's token worn smooth by thumbs",
    ),
    "tavern": (
        "a note folded under a tankard", "a marked card tucked into a boot-scraper",
        "initials carved into the bench, with a date", "a purse someone will miss",
    ),
    "stone": (
        "a loose stone with a hollow behind it", "fresh scratches leading to the far wall",
        "a dagger with a broken tip", "boot prints in the dust, going one way only",
        "a coil of good rope someone left in a hurry",
    ),
}  # fmt: skip
