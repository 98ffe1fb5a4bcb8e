"""The offline narrator at every content rating: nothing it writes is refused by the local
filter at the session's rating, and its prose keeps its floors."""

from __future__ import annotations

import pytest

from narrator_server.core.models import ContentRating, DecisionOption
from narrator_server.moderation.lexicon import default_lexicon
from narrator_server.testing.prose_session import distinct_trigrams, repeats_within

from .offline_session import ANTECHAMBER, CRYPT, SHRINE, Table
from .test_offline_prose import ACTIONS

FIGHT = [
    "I attack Grub with my sword",
    "I stab the goblin",
    "I kill the guard",
    "I bandage my wound",
]
OPTIONS = (DecisionOption("attack", "Grub attacks"), DecisionOption("flee", "Grub flees"))


@pytest.mark.parametrize("rating", list(ContentRating))
def test_nothing_offline_is_refused_at_the_sessions_rating(rating: ContentRating) -> None:
    lexicon = default_lexicon()
    for seed in (1, 2, 3):
        table = Table(seed=seed, tone="grim and bloody", rating=rating)
        texts = []
        for i in range(45):
            scene = (CRYPT, ANTECHAMBER, SHRINE)[i // 15]
            if i % 9 == 8:
                table.ask("Does Grub attack?", OPTIONS, scene)
                texts.append(table.history[-1].text)
            else:
                texts.append(table.say((ACTIONS + FIGHT)[i % 24], scene))
        refused = [(t, lexicon.refused(t, rating)) for t in texts if lexicon.refused(t, rating)]
        assert refused == []
        assert repeats_within(texts, 10) == 0
        assert distinct_trigrams(texts) >= 0.6


def test_without_the_filter_everyone_would_have_been_refused() -> None:
    """The filter does work at everyone: the same session at teen says what everyone may not."""
    lexicon = default_lexicon()
    said = []
    for seed in (1, 2, 3):
        table = Table(seed=seed, tone="grim and bloody", rating=ContentRating.TEEN)
        said += [table.say((ACTIONS + FIGHT)[i % 24]) for i in range(45)]
    assert any(lexicon.refused(t, ContentRating.EVERYONE) for t in said)
