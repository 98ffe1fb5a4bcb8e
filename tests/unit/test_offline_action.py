"""The offline narrator reads the player's input: 'you', other languages, emoji, speech,
long actions, and characters' pronouns."""

from __future__ import annotations

import pytest

from narrator_server.core.models import Character
from narrator_server.providers.offline import action as actions
from narrator_server.providers.offline.people import HE, SHE, THEY, Person, parse_pronouns

MIRELA = Person.of(Character("Mirela", "a smuggler; she is wary", "wary"))
PERRIN = Person.of(Character("Old Perrin", "a ghostly archivist, an old man", "friendly"))
PEOPLE = (MIRELA, PERRIN)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I open the door", "you open the door"),
        ("I pry the lid off my coffin.", "you pry the lid off your coffin"),
        ("I'm going to hide behind my shield", "you're going to hide behind your shield"),
        ("I am tired and I was wrong", "you are tired and you were wrong"),
        ("Open the door", "you open the door"),
        ("Ash opens the door", "you open the door"),
        ("Slowly I back away", "you slowly back away"),
        ("We run for our lives", "you run for your lives"),
        ("I keep it for myself; it is mine", "you keep it for yourself; it is yours"),
    ],
)
def test_first_person_becomes_you(raw: str, expected: str) -> None:
    assert actions.second_person(raw, "Ash") == expected


def test_the_action_is_parsed_into_verb_kind_thing_and_target() -> None:
    act = actions.parse("I push the rusted gate", "Ash", PEOPLE)
    assert (act.language, act.clause, act.verb, act.kind) == (
        "en", "you push the rusted gate", "push", "force",
    )  # fmt: skip
    assert act.thing is not None
    assert (act.thing.phrase, act.thing.head, act.thing.plural) == (
        "the rusted gate",
        "gate",
        False,
    )
    assert act.past == "you pushed the rusted gate"
    talk = actions.parse("I ask Perrin about the old gods", "Ash", PEOPLE)
    assert (talk.kind, talk.target, talk.topic) == ("talk", PERRIN, "the old gods")
    assert actions.parse("I check my wounds", "Ash", PEOPLE).thing == actions.Thing(
        "your wounds", "wounds", True
    )
    assert actions.parse("I pick the lock", "Ash", PEOPLE).kind == "force"


@pytest.mark.parametrize(
    "raw",
    [
        "je lève mon épée 🗡️ et je crie",
        "¿Dónde está la salida? Necesito salir ahora mismo",
        "我打开门，然后慢慢走进去",
        "Ich öffne die Tür mit meinem Schwert",
        "Я открываю дверь",
        "Hola amigos, vamos a la taberna",
    ],
)
def test_other_languages_are_recognised_and_never_become_the_clause(raw: str) -> None:
    act = actions.parse(raw, "Ash", PEOPLE)
    assert act.language == "foreign"
    words = [w for w in raw.lower().split() if len(w) >= 3]
    assert not any(w in act.clause.lower() for w in words)


def test_emoji_are_read_for_their_meaning_and_never_kept() -> None:
    only = actions.parse("🗡️🔥🔥😱", "Ash", PEOPLE)
    assert (only.language, only.clause, only.emoji_thing, only.emoji_mood) == (
        "emoji", "you ready your blade", "fire", "terror",
    )  # fmt: skip
    french = actions.parse("je lève mon épée 🗡️ et je crie", "Ash", PEOPLE)
    assert french.clause == "you ready your blade"
    mixed = actions.parse("I attack the rat 🐀🔥 now!", "Ash", PEOPLE)
    assert mixed.language == "en"
    assert mixed.clause == "you attack the rat now"
    assert actions.parse("...", "Ash", PEOPLE).language == "empty"
    # English with a few words of another script: those words are left out.
    mixed_script = actions.parse("I wave to Mirela 🌊 and shout 我打开门", "Ash", PEOPLE)
    assert mixed_script.clause == "you wave to Mirela and shout"
    assert actions.parse("I say hello to Иван", "Ash", PEOPLE).clause == "you say hello"


def test_speech_is_quoted_and_shortened() -> None:
    vocative = actions.parse("Mirela, I only want to talk", "Ash", PEOPLE)
    assert (vocative.kind, vocative.target, vocative.speech) == (
        "talk",
        MIRELA,
        "I only want to talk.",
    )
    said = actions.parse('I say "Nobody needs to get hurt tonight, friend"', "Ash", PEOPLE)
    assert said.speech == "Nobody needs to get hurt tonight, friend."
    question = actions.parse("What is behind the door?", "Ash", PEOPLE)
    assert (question.verb, question.speech) == ("ask", "What is behind the door?")
    long = actions.parse('"' + "word " * 40 + '"', "Ash", PEOPLE)
    assert len(long.speech) <= 52
    assert long.speech.endswith("\u2026")
    # 'I attack Mirela, then run' attacks her; it does not speak to her.
    assert actions.parse("I attack Mirela, then run", "Ash", PEOPLE).kind == "attack"


def test_long_actions_keep_at_most_sixty_characters_of_the_players_words() -> None:
    raw = (
        "I carefully check every corner of the chamber, running my fingers along the slimy "
        "walls, looking for hidden levers, loose stones, scratched symbols or anything else the "
        "smugglers might have left behind, and while I do that I keep one eye on Mirela"
    )
    act = actions.parse(raw, "Ash", PEOPLE)
    assert act.long
    assert act.clause == "you carefully check every corner of the chamber"
    assert act.aside == MIRELA
    unbroken = "I " + " ".join(["wander"] * 60)
    assert len(actions.parse(unbroken, "Ash", PEOPLE).clause) <= actions.MAX_ECHO


@pytest.mark.parametrize(
    ("character", "expected"),
    [
        (Character("Mirela", "a smuggler; she is wary"), SHE),
        (Character("Perrin", "a ghostly archivist, an old man"), HE),
        (Character("Tamsin", "a ferrywoman who hums to herself"), SHE),
        (Character("Grub", "a goblin chief"), THEY),
        (Character("Grub", "a goblin chief", pronouns="he/him"), HE),
        (Character("Vex", "a woman in grey", pronouns="they/them"), THEY),
        (Character("Mirela", "she is wary", pronouns="nonsense"), SHE),
    ],
)
def test_pronouns_come_from_the_field_then_the_description(
    character: Character, expected: object
) -> None:
    assert Person.of(character).pronouns == expected


def test_pronoun_sets_and_verb_agreement() -> None:
    xe = parse_pronouns("xe/xem")
    assert xe is not None
    assert (xe.they, xe.them, xe.their) == ("xe", "xem", "xyr")
    custom = parse_pronouns("ae/aer/aer/aers/aerself")
    assert custom is not None
    assert custom.slots()["themself"] == "aerself"
    assert custom.slots()["s"] == "s"
    assert THEY.slots()["is"] == "are"
    assert SHE.slots()["is"] == "is"
    assert parse_pronouns("") is None
    assert parse_pronouns("She/Her") == SHE
