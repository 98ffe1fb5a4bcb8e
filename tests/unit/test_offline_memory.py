"""The offline narrator remembers the stored turns: outcomes stay true, places keep their
light and sounds, who left is gone, earlier turns are recalled; the planner gives it them."""

from __future__ import annotations

import dataclasses

from narrator_server.core.memory import CampaignMemory
from narrator_server.core.models import DecisionOption, TurnKind
from narrator_server.core.planning import MemoryPlanner, TurnSpec
from narrator_server.core.ports import Deadline
from narrator_server.providers.offline import action as actions
from narrator_server.providers.offline import memory, outcomes, scenery
from narrator_server.providers.offline.people import Person
from narrator_server.providers.offline.place import Place
from narrator_server.store.memory import MemoryStore
from narrator_server.testing.prose_session import sentences

from .offline_session import ANTECHAMBER, SHRINE, Table

PUSH = "I push the rusted gate"
MIRELA = Person.of(ANTECHAMBER.characters[0])


def fate_of_push(seed: int) -> str:
    act = actions.parse(PUSH, "Ash", (MIRELA,))
    return memory.fate(seed, ANTECHAMBER.location, act, 0)


def seed_where(result: str) -> int:
    return next(s for s in range(200) if fate_of_push(s) == result)


class _Cut(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "\0"


GATE = _Cut(thing="the rusted gate", Thing="The rusted gate", it="it", its="its", t_s="s",
            t_es="es", t_is="is", t_has="has")  # fmt: skip


def rendered(pool: tuple[str, ...]) -> list[str]:
    """The pool's sentences as they read for the gate, up to their first other slot."""
    return [p.format_map(GATE).split("\0")[0] for p in pool]


def test_an_opened_gate_stays_open() -> None:
    table = Table(seed=seed_where("success"))
    table.say("I look around", ANTECHAMBER)
    opened = table.say(PUSH, ANTECHAMBER)
    assert any(
        start and start in opened for start in rendered(outcomes.OUTCOMES["force"]["success"])
    )
    for action in ("I go north through the gate", "I look around", "I wait", PUSH):
        text = table.say(action, ANTECHAMBER)
        assert "a rusted gate blocks the way north" not in text.lower()
        for fate in ("partial", "complication"):
            for start in rendered(outcomes.OUTCOMES["force"][fate]):
                assert len(start) < 12 or start not in text, text
    # Pushing it again: it is already open.
    assert any(start in text for start in rendered(outcomes.ALREADY["force"]))


def test_a_gate_that_held_must_still_be_forced() -> None:
    table = Table(seed=seed_where("complication"))
    table.say(PUSH, ANTECHAMBER)
    people = (MIRELA,)
    ctx = table.context("I go north through the gate", ANTECHAMBER)
    mind = memory.recall(ctx, people)
    act, _ = mind.settle(
        ctx.session.seed, ANTECHAMBER.location, actions.parse(ctx.input, "Ash", people)
    )
    assert act.kind == "force"  # walking through a shut gate is forcing it
    text = table.say("I go north through the gate", ANTECHAMBER)
    assert not any(s in text for s in outcomes.OUTCOMES["move"]["success"])


def test_the_light_and_sounds_of_a_place_stay_the_same_while_there_and_on_return() -> None:
    every_sense = {
        phrase
        for senses in scenery.SENSES.values()
        for sense in ("light", "sound", "smell")
        for phrase in senses[sense]
    }
    for seed in range(4):
        table = Table(seed=seed)
        place = Place.of(seed, ANTECHAMBER, "grim")
        assert place.light == "the dim light"  # the scene's attribute wins
        mine = {place.light, place.sound, place.smell}
        texts = [table.say(a, ANTECHAMBER) for a in ("I look around", "I wait", "I listen") * 4]
        texts += [table.say("I step into the shrine", SHRINE)]
        texts += [table.say(a, ANTECHAMBER) for a in ("I come back", "I listen", "I wait")]
        told = {p for p in every_sense if any(p in t.lower() for t in texts[:12] + texts[13:])}
        assert told, texts
        assert told <= mine, told - mine
        assert Place.of(seed, ANTECHAMBER, "grim") == place
        back = texts[13]
        assert any(w in back for w in ("back in", "again", "last here", "Back in")), back


def test_who_fled_does_not_react_until_named() -> None:
    options = (
        DecisionOption("flee", "the creature flees deeper into the dungeon"),
        DecisionOption("stay", "the creature stays"),
    )
    fled = 0
    for seed in range(6):
        table = Table(seed=seed)
        table.say("I look around", ANTECHAMBER)
        if table.ask("Mirela is terrified: what does she do?", options, ANTECHAMBER) != "flee":
            continue
        fled += 1
        for action in ("I wait", "I look around", "I listen"):
            assert "Mirela" not in table.say(action, ANTECHAMBER)
        assert "Mirela" in table.say("I call out to Mirela", ANTECHAMBER)
    assert fled >= 3


def test_earlier_turns_are_recalled_when_they_matter() -> None:
    for seed in range(5):
        table = Table(seed=seed)
        table.say(PUSH, ANTECHAMBER)
        for action in ("I look around", "I wait", "I listen"):
            table.say(action, ANTECHAMBER)
        later = table.say("I kick the rusted gate", ANTECHAMBER)
        assert "pushed the rusted gate" in later or "already" in later, later
        table.say("I attack Grub", SHRINE)
        table.say("I wait", SHRINE)
        table.say("I look around", SHRINE)
        assert "attacked him" in table.say("I talk to Grub", SHRINE)


def test_another_narrators_turn_is_not_second_guessed() -> None:
    """A model narrated the push: the offline narrator cannot know how it went, so it
    neither restates the gate fact nor claims an outcome for it."""
    table = Table(seed=seed_where("success"))
    table.say(PUSH, ANTECHAMBER)
    table.history[-1] = dataclasses.replace(table.history[-1], provider="openai")
    ctx = table.context("I wait", ANTECHAMBER)
    mind = memory.recall(ctx, (MIRELA,))
    assert mind.touched == {"gate"}
    assert mind.changed == {}
    for _ in range(5):
        assert "gate" not in table.say("I wait", ANTECHAMBER)


def test_sentences_of_the_last_ten_turns_are_banned_and_older_ones_stale() -> None:
    table = Table(seed=1)
    for i in range(30):
        table.say(f"I wait {i}", ANTECHAMBER)
    mind = memory.recall(table.context("I wait", ANTECHAMBER), (MIRELA,))
    last_ten = {s.lower() for t in table.history[-10:] for s in sentences(t.text)}
    older = {s.lower() for t in table.history[:-10] for s in sentences(t.text)}
    assert last_ten <= mind.banned
    assert older - last_ten <= mind.stale


async def test_the_planner_gives_the_narrator_the_stored_turns_newest_first() -> None:
    store = MemoryStore()
    table = Table(seed=1)
    await store.create_session(table.session)
    for action in ("I look around", "I wait", "I listen"):
        table.say(action, ANTECHAMBER)
        await store.claim_turn(table.history[-1])
    session = await store.get_session("s", 0)
    assert session is not None
    spec = TurnSpec("s", TurnKind.NARRATION, "I push", ANTECHAMBER)
    request, _ = await MemoryPlanner(CampaignMemory(store)).plan(session, spec, "t9", Deadline())
    assert [t.input for t in request.context.recent] == ["I listen", "I wait", "I look around"]
