"""The offline narrator writes varied, deterministic, scene-aware prose."""

from __future__ import annotations

from narrator_server.core.models import (
    Character,
    DecisionOption,
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    TurnKind,
)
from narrator_server.core.ports import TurnContext
from narrator_server.providers.offline import prose

SCENE = Scene(
    location="the flooded crypt",
    characters=(
        Character("Mirela", "a smuggler", "wary"),
        Character("Grub", "a goblin chief", "hostile"),
    ),
    facts=("the door behind you is locked", "the water is rising"),
    attributes=(("weather", "stormy"),),
)
ACTIONS = [
    "I open the coffin", "I light a torch", "I shout for help", "I draw my sword",
    "I search the walls", "I talk to Mirela", "I attack Grub", "I pray to the old gods",
    "I hide behind the pillar", "I drink the potion", "I read the inscription", "I climb the stairs",
    "I throw a coin into the water", "I bandage my wound", "I listen at the door", "I sing softly",
    "I pick the lock", "I offer Grub some bread", "I break the mirror", "I wade deeper",
]  # fmt: skip


def ctx(action: str, seed: int = 1, index: int = 0, tone: str = "grim") -> TurnContext:
    session = Session("s", Setting("a drowned city", tone), PlayerCharacter("Ash"), seed, 0.0)
    return TurnContext(session, "t", index, TurnKind.NARRATION, action, SCENE)


def test_twenty_actions_give_twenty_scene_aware_narrations() -> None:
    texts = [prose.narration(ctx(a)) for a in ACTIONS]
    assert len(set(texts)) == 20
    for action, text in zip(ACTIONS, texts, strict=True):
        assert prose.second_person(action).lower() in text.lower()
        assert "flooded crypt" in text or "Mirela" in text or "Grub" in text
        assert any(fact in text for fact in SCENE.facts)


def test_the_same_turn_reads_the_same_and_the_seed_changes_it() -> None:
    assert prose.narration(ctx("I look around")) == prose.narration(ctx("I look around"))
    variants = {prose.narration(ctx("I look around", seed=s)) for s in range(10)}
    assert len(variants) > 5


def test_named_characters_react() -> None:
    assert "Mirela" in prose.narration(ctx("I talk to Mirela"))


def test_second_person() -> None:
    assert prose.second_person("I pry the lid off my coffin.") == "you pry the lid off your coffin"
    assert prose.second_person("Look around") == "you look around"


def test_decider_scores_options_against_the_scene() -> None:
    options = (
        DecisionOption("attack", "Grub attacks with his spear"),
        DecisionOption("sing", "Grub sings a lullaby"),
    )
    base = ctx("Grub is angry. What does he do?")
    decision_ctx = TurnContext(base.session, "t", 0, TurnKind.DECISION, base.input, SCENE, options)
    option, rationale, names = prose.choose(decision_ctx)
    assert option.id == "attack"
    assert "Grub" in rationale
    assert names[0] == "Ash"
    assert "Grub" not in names


def test_a_continuation_goes_on_without_restating_the_action() -> None:
    turn = ctx("I open the coffin")
    cut = prose.continuation(turn, "The lid groans as you push")
    assert cut.startswith(" \u2026 ")
    assert "open the coffin" not in cut
    after_sentence = prose.continuation(turn, "The lid falls. ")
    assert not after_sentence.startswith((" ", "\u2026"))
    assert after_sentence.strip()
