"""The offline summarizer keeps names, places, items and promises, within its budget."""

from __future__ import annotations

import dataclasses

from narrator_server.core import offline_summary
from narrator_server.core.models import Character, Scene
from narrator_server.core.prompt import estimate_tokens

from .memory_support import turn


def test_it_keeps_names_places_items_and_promises() -> None:
    t = dataclasses.replace(
        turn(1, "Captain Vey nods. You swear to bring the jade compass back by dawn.",
             "I take the jade compass from the chest"),
        scene=Scene("the lighthouse", (Character("Old Perrin"),)),
    )  # fmt: skip
    text = offline_summary.fold("", [t], 500)
    lines = offline_summary.parse(text)
    assert "the lighthouse" in lines["Places"]
    assert {"Old Perrin", "Captain Vey"} <= set(lines["People"])
    assert "jade compass" in lines["Items"]
    assert any("swear to bring the jade compass" in p for p in lines["Promises"])


def test_folding_again_keeps_what_was_there_and_stays_within_the_budget() -> None:
    first = offline_summary.fold(
        "", [turn(1, "Mirela makes a deal: her boat for your silence.", "I agree to the deal")], 120
    )
    filler = [
        turn(i, f"You walk past statue {i} of Lord Number{i}.", f"I pick up the lamp{i}")
        for i in range(2, 60)
    ]
    second = offline_summary.fold(first, filler, 120)
    assert estimate_tokens(second) <= 120
    assert "her boat for your silence" in second  # promises have the largest share
    assert "lamp59" in second
    assert "Lord Number59" in second
    assert "lamp2," not in second
    assert "Lord Number2," not in second


def test_a_model_written_summary_is_kept_as_earlier_text() -> None:
    text = offline_summary.fold(
        "Ash freed the smugglers of Greyport.", [turn(2, "Rain.", "I wait")], 200
    )
    assert offline_summary.parse(text)["Earlier"] == ["Ash freed the smugglers of Greyport."]
    short = offline_summary.fold("word " * 400, [turn(2, "Rain.", "I wait")], 60)
    assert estimate_tokens(short) <= 60


def test_a_promise_retold_by_the_narrator_is_kept_once() -> None:
    vow = turn(1, "You nod.", "I give my word to Captain Orsolya that the Red Fleet is safe")
    retold = turn(
        2, "The last thing you did here was this: you gave your word to Captain Orsolya.", "I wait"
    )
    lines = offline_summary.parse(offline_summary.fold("", [vow, retold], 500))
    assert lines["Promises"] == ["I give my word to Captain Orsolya that the Red Fleet is safe"]
