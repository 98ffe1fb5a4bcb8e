"""A turn's prompt from its sections: one total budget, per-kind budgets, a stable prefix, the
mandatory part's hard floor, and player text only in user messages."""

from __future__ import annotations

import dataclasses

import pytest

from narrator_server.core import prompt
from narrator_server.core.assembly import Budgets, assemble
from narrator_server.core.errors import InvalidArgument
from narrator_server.core.memory_models import SectionKind, Summary, SummarySource
from narrator_server.core.models import Character, DecisionOption, Scene, TurnKind

from .memory_support import SESSION, entry, matcher, newest_first, turn

SCENE = Scene("LOCX", (Character("Mirela", "a smuggler", "wary"),), ("the door is locked",))
SUMMARY = Summary("Mirela owes you a boat.", "t0", "t3", 3.0, 4, SummarySource.OFFLINE, 9.0)


def kinds(sections: tuple[object, ...]) -> list[str]:
    return [s.kind.value for s in sections]  # type: ignore[attr-defined]


def test_sections_come_in_prompt_order_and_history_keeps_the_newest_that_fit() -> None:
    recent = newest_first(10)
    one = sum(prompt.estimate_tokens(x) for x in prompt.history_texts(recent[0]))
    lore = matcher(entry("a", always_on=True), entry("b", "mirela"))
    got = assemble(
        SESSION, TurnKind.NARRATION, "I greet Mirela", SCENE, (), recent, SUMMARY, lore,
        Budgets(history=one * 3),
    )  # fmt: skip
    assert kinds(got.sections) == [
        "system", "campaign", "summary", "lore", "history", "history", "history", "lore",
        "scene", "input",
    ]  # fmt: skip
    assert [t.turn_id for t in got.window] == ["t7", "t8", "t9"]
    history = [s for s in got.sections if s.kind is SectionKind.HISTORY]
    assert [s.turn_id for s in history] == ["t7", "t8", "t9"]
    keyed = got.sections[-3]
    assert (keyed.lore_entry_id, keyed.matched_key) == ("b", "mirela")
    assert got.sections[3].matched_key == ""  # always-on


def test_history_messages_share_the_turns_text_and_read_as_the_sections_say() -> None:
    decided = dataclasses.replace(
        turn(11, text="You weigh it.\nThen you choose."), kind=TurnKind.DECISION
    )
    recent = [decided, *newest_first(5)]
    got = assemble(
        SESSION, TurnKind.NARRATION, "I go", SCENE, (), recent, None, matcher(), Budgets()
    )  # fmt: skip
    shared = prompt.messages_of(got.sections, got.history)
    assert shared == prompt.messages_of(got.sections)  # the same prompt either way
    said = [m.content for m in shared if m.role == "assistant"]
    assert said[0] is got.window[0].text  # not a copy: one string per turn in memory
    assert said[-1] == "You weigh it.\nThen you choose.\n(Chosen: ?)"


def test_the_prompt_fits_the_total_budget_and_each_kind_its_own() -> None:
    recent = newest_first(60)
    lore = matcher(*(entry(f"e{i}", "mirela", content="x" * 400) for i in range(10)))
    budgets = Budgets(prompt=2000, history=900, lore=300, summary=20)
    got = assemble(
        SESSION, TurnKind.NARRATION, "I greet Mirela", SCENE, (), recent, SUMMARY, lore, budgets
    )
    by_kind: dict[SectionKind, int] = {}
    for s in got.sections:
        by_kind[s.kind] = by_kind.get(s.kind, 0) + s.tokens
    assert sum(by_kind.values()) <= 2000
    assert 0 < by_kind[SectionKind.HISTORY] <= 900
    assert 0 < by_kind[SectionKind.LORE] <= 300
    assert by_kind[SectionKind.SUMMARY] <= 20
    messages = prompt.messages_of(got.sections)
    assert sum(prompt.estimate_tokens(m.content) for m in messages) <= 2000 + 40  # headers


def test_a_tight_total_leaves_history_out_before_the_mandatory_part() -> None:
    recent = newest_first(20)
    small = Budgets(prompt=400, history=3000)
    got = assemble(SESSION, TurnKind.NARRATION, "I wait", SCENE, (), recent, None, matcher(), small)
    assert sum(s.tokens for s in got.sections) <= 400
    assert {"system", "campaign", "scene", "input"} <= set(kinds(got.sections))


def test_mandatory_part_over_budget_names_the_largest_fields() -> None:
    scene = Scene("LOCX", facts=("short", "f" * 8000))
    with pytest.raises(InvalidArgument) as caught:
        assemble(
            SESSION, TurnKind.NARRATION, "a" * 3000, scene, (), [], None, matcher(),
            Budgets(prompt=1500),
        )  # fmt: skip
    fields = [v.field for v in caught.value.violations]
    assert fields[0] == "scene.facts[1]"
    assert "NARRATOR_PROMPT_TOKENS" in caught.value.violations[0].description
    assert "scene.facts[0]" not in fields


def test_decision_options_count_in_the_mandatory_part() -> None:
    options = (
        DecisionOption("a", "x" * 100),
        DecisionOption("b", "y", '{"type":"object","description":"' + "z" * 9000 + '"}'),
    )
    with pytest.raises(InvalidArgument) as caught:
        assemble(
            SESSION,
            TurnKind.DECISION,
            "What now?",
            Scene(),
            options,
            [],
            None,
            matcher(),
            Budgets(prompt=1000),
        )
    assert caught.value.violations[0].field == "options[1].arguments_schema"


def test_the_stable_part_is_an_unchanging_prefix_from_turn_to_turn() -> None:
    lore = matcher(entry("a", always_on=True, content="The king is dead."), entry("b", "gate"))
    before = newest_first(5)
    after = [turn(5), *before]
    first = prompt.messages_of(
        assemble(
            SESSION,
            TurnKind.NARRATION,
            "I open the gate",
            SCENE,
            (),
            before,
            SUMMARY,
            lore,
            Budgets(),
        ).sections
    )
    second = prompt.messages_of(
        assemble(
            SESSION, TurnKind.DECISION, "What does Mirela do?", Scene("elsewhere"),
            (DecisionOption("flee"),), after, SUMMARY, lore, Budgets(),
        ).sections
    )  # fmt: skip
    # system, campaign, summary, always-on lore, then the history so far: all unchanged.
    stable = 4 + 2 * 5
    assert first[:stable] == second[:stable]
    assert first[3].content.endswith("The king is dead.")
    assert "gate" in first[-1].content
    assert "Lore that matters now" in first[-1].content
    assert "Lore that matters now" not in second[-1].content


def test_player_text_is_only_in_user_messages() -> None:
    lore = matcher(entry("a", "locx", content="LOREX"))
    sections = assemble(
        SESSION, TurnKind.NARRATION, "ACTIONX", Scene(location="LOCX"), (), [turn(1, "TEXTX", "ACT1X")],
        dataclasses.replace(SUMMARY, text="SUMX"), lore, Budgets(),
    ).sections  # fmt: skip
    messages = prompt.messages_of(sections)
    assert messages[0].role == "system"
    for marker in ("WORLDX", "NAMEX", "DESCX", "LOCX", "ACTIONX", "LOREX", "SUMX", "ACT1X"):
        assert marker not in messages[0].content
        assert any(marker in m.content for m in messages if m.role == "user")
    assert [m.role for m in messages].count("assistant") == 1


def test_a_multiline_action_stays_one_history_input() -> None:
    recent = [turn(1, "It opens.", "I push\nthe door")]
    got = assemble(
        SESSION, TurnKind.NARRATION, "go", Scene(), (), recent, None, matcher(), Budgets()
    )
    messages = prompt.messages_of(got.sections)
    assert ("user", "Player action: I push the door") in [(m.role, m.content) for m in messages]
    assert ("assistant", "It opens.") in [(m.role, m.content) for m in messages]


def test_a_window_turn_s_section_and_messages_are_worked_out_once() -> None:
    recent = newest_first(5)
    first, second = (
        assemble(SESSION, TurnKind.NARRATION, text, SCENE, (), recent, None, matcher(), Budgets())
        for text in ("I go", "I stay")
    )
    held = [s for s in first.sections if s.kind is SectionKind.HISTORY]
    again = [s for s in second.sections if s.kind is SectionKind.HISTORY]
    assert len(held) == 5
    assert all(a is b for a, b in zip(held, again, strict=True))
    assert all(first.history[t] is second.history[t] for t in first.history)
    # A turn equal to one seen but another object (read again) is worked out again, alike.
    copy = [dataclasses.replace(t) for t in recent]
    third = assemble(
        SESSION, TurnKind.NARRATION, "I go", SCENE, (), copy, None, matcher(), Budgets()
    )
    assert third.sections == first.sections
    fresh = [s for s in third.sections if s.kind is SectionKind.HISTORY]
    assert not any(a is b for a, b in zip(held, fresh, strict=True))
