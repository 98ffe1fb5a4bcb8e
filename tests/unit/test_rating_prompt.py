"""Each content rating's instructions are a stable line of the system message."""

from __future__ import annotations

import dataclasses

import pytest

from narrator_server.core import prompt
from narrator_server.core.models import ContentRating

from .memory_support import SESSION


@pytest.mark.parametrize(
    ("rating", "fine", "not_fine"),
    [
        (ContentRating.EVERYONE, "battles told without injury detail", "blood, wounds or corpses"),
        (ContentRating.TEEN, "sword fights", "graphic gore"),
        (ContentRating.MATURE, "graphic violence and gore", "explicit sexual content"),
    ],
)
def test_each_rating_says_what_is_fine_and_what_is_not(
    rating: ContentRating, fine: str, not_fine: str
) -> None:
    text = prompt.system_text(dataclasses.replace(SESSION, content_rating=rating))
    assert text.startswith(prompt.SYSTEM_PROMPT)
    line = text.split("\n")[1]
    assert line.startswith(f"Content rating: {rating.value.upper()}")
    assert fine in line
    assert f"Not fine: {not_fine}" in line
    assert "sexual content involving minors" in line  # never, at any rating


def test_the_ratings_differ_and_each_is_the_same_every_turn() -> None:
    texts = {
        r: prompt.system_text(dataclasses.replace(SESSION, content_rating=r)) for r in ContentRating
    }
    assert len(set(texts.values())) == 3
    later = dataclasses.replace(SESSION, turn_count=40, content_rating=ContentRating.TEEN)
    assert prompt.system_text(later) == texts[ContentRating.TEEN]
