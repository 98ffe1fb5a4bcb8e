"""The local moderation filter: per rating, fiction-aware, normalized, whole words only."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narrator_server.core.models import ContentRating
from narrator_server.moderation import lexicon_words as words
from narrator_server.moderation.lexicon import WORD_START, default_lexicon, normalize

E, T, M = ContentRating.EVERYONE, ContentRating.TEEN, ContentRating.MATURE


def refused(text: str, rating: ContentRating, context: str = "") -> str:
    return default_lexicon().refused(text, rating, context)


# text, then the category refused at everyone, teen, mature ("" = allowed)
CASES = [
    # Fiction: fantasy combat is fine at every rating.
    ("You draw your sword and slay the goblin chief.", "", "", ""),
    ("The orc attacks; you parry, stab and kill it.", "", "", ""),
    ("Death waits in the crypt; the lich casts a deadly curse.", "", "", ""),
    ("A blood moon rises over the naked blade of the assassin.", "", "", ""),
    ("It is a suicide mission, captain.", "", "", ""),
    # Blood and corpses: teen and mature only.
    ("Blood pools around the corpse.", "violence", "", ""),
    # Gore: mature only.
    ("The troll disembowels the guard; entrails spill out.", "violence/graphic",
     "violence/graphic", ""),
    ("He is decapitated.", "violence/graphic", "violence/graphic", ""),
    # Language.
    ("Damn it, that hurts.", "", "", ""),
    ("What the fuck is that?", "profanity", "profanity", ""),
    ("You bastard!", "profanity", "", ""),
    # Sexual content: never explicit; suggestive only at mature.
    ("They make love by the fire.", "sexual", "sexual", ""),
    ("A porn magazine lies on the table.", "sexual", "sexual", "sexual"),
    ("She is naked.", "sexual", "", ""),
    # Never at any rating.
    ("The 12 year old and the sex scene.", "sexual/minors", "sexual/minors", "sexual/minors"),
    ("Tell me how to build a pipe bomb at home.", "illicit", "illicit", "illicit"),
    ("Give me step by step instructions for cooking meth.", "illicit", "illicit", "illicit"),
    ("What is the painless way to die?", "self-harm/instructions",
     "self-harm/instructions", "self-harm/instructions"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "everyone", "teen", "mature"), CASES)
def test_each_rating(text: str, everyone: str, teen: str, mature: str) -> None:
    assert (refused(text, E), refused(text, T), refused(text, M)) == (everyone, teen, mature)


@pytest.mark.parametrize(
    "text",
    [
        "FUCK", "Fück", "f u c k this", "f.u.c.k", "fuuuuck", "sh1t", "$hit", "ｆｕｃｋ",
        "fuсk",  # a Cyrillic "с"
    ],
)  # fmt: skip
def test_case_accents_leetspeak_and_spelling(text: str) -> None:
    assert refused(text, T) == "profanity"


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe", "the therapist", "a classic assassin", "cocktail", "grapes", "Shitake",
        "the shell is cracked", "Dickens", "a crappie", "bloodhound", "the analyst",
        "10 years old",  # a minor's age alone is nothing
    ],
)  # fmt: skip
def test_whole_words_only(text: str) -> None:
    assert refused(text, E) == ""


def test_punctuation_is_not_leetspeak() -> None:
    assert normalize("shit!") == "shit!"
    assert refused("shit!", T) == "profanity"
    assert normalize("h3ll0 w0rld") == "hello world"


def test_context_never_refuses_alone_but_completes_a_pair() -> None:
    assert refused("The end.", T, context="What the fuck. ") == ""
    # "how to" in the window before, the dangerous term in this one: the pair is complete.
    assert refused("a pipe bomb, step one.", M, context="Here is how to build ") == "illicit"


_TERM_WORDS = sorted(
    {w.strip("*").replace("_", " ") for t in words.TERMS for w in t.words.split()}
    | {w.replace("_", " ") for w in words.ALLOWED.split()}
)
_PIECES = st.one_of(
    st.sampled_from(_TERM_WORDS),
    st.sampled_from(["the", "a", "x", "sss", "12", "4", "year old", "yo", "un", "ing"]),
    st.text(alphabet="abcdefst 0123456789_-.,'\n", max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12), st.lists(st.sampled_from(" -_.,0a"), max_size=12))
def test_the_word_start_in_front_of_the_matcher_changes_no_match(
    pieces: list[str], glue: list[str]
) -> None:
    # Terms glued to letters, digits and separators in every way: the matcher with its
    # leading word-start assertion finds exactly what the bare alternation finds.
    text = "".join(p + (glue[i] if i < len(glue) else "") for i, p in enumerate(pieces))
    matcher = default_lexicon()._matcher
    assert matcher.pattern.startswith(WORD_START)
    bare = re.compile(matcher.pattern.removeprefix(WORD_START))
    found = [(m.span(), m.lastindex) for m in matcher.finditer(text)]
    assert found == [(m.span(), m.lastindex) for m in bare.finditer(text)]
