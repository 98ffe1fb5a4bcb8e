"""What OpenAI's moderation scores mean at each content rating: a text is refused for the
first category (in this order) whose score reaches the rating's threshold; `None` never
refuses. docs/security.md shows the same table.

Fiction first: violence is the stuff of adventure, so `violence` alone only counts at
everyone, and only when it is near certain; gore (`violence/graphic`) is refused below
mature. Sexual content involving minors, self-harm instructions and real-world harm
instructions (`illicit/violent`) are refused at every rating, at low scores.
"""

from __future__ import annotations

from ..core.models import ContentRating

E, T, M = ContentRating.EVERYONE, ContentRating.TEEN, ContentRating.MATURE

# category: (everyone, teen, mature)
THRESHOLDS: dict[str, tuple[float | None, float | None, float | None]] = {
    "sexual/minors": (0.05, 0.05, 0.05),
    "self-harm/instructions": (0.2, 0.2, 0.2),
    "illicit/violent": (0.3, 0.4, 0.5),
    "hate/threatening": (0.3, 0.4, 0.6),
    "hate": (0.4, 0.6, 0.8),
    "illicit": (0.5, 0.7, 0.8),
    "sexual": (0.2, 0.3, 0.8),
    "violence/graphic": (0.3, 0.6, None),
    "self-harm/intent": (0.3, 0.5, 0.7),
    "self-harm": (0.3, 0.6, 0.9),
    "harassment/threatening": (0.5, 0.9, None),
    "harassment": (0.5, 0.8, 0.95),
    "violence": (0.9, None, None),
}
_COLUMN = {E: 0, T: 1, M: 2}
# The domain category each score is reported as (the error names it).
REPORTED = {
    "sexual/minors": "sexual/minors",
    "self-harm/instructions": "self-harm/instructions",
    "illicit/violent": "illicit",
    "hate/threatening": "hate",
    "hate": "hate",
    "illicit": "illicit",
    "sexual": "sexual",
    "violence/graphic": "violence/graphic",
    "self-harm/intent": "self-harm",
    "self-harm": "self-harm",
    "harassment/threatening": "harassment",
    "harassment": "harassment",
    "violence": "violence",
}


def refused(scores: dict[str, float], rating: ContentRating) -> str:
    """The category the scores refuse a text for at `rating` ("" when none)."""
    column = _COLUMN[rating]
    for category, limits in THRESHOLDS.items():
        limit = limits[column]
        score = scores.get(category)
        if limit is not None and isinstance(score, int | float) and score >= limit:
            return REPORTED[category]
    return ""
