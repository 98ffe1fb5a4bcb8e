"""OpenAI's moderation endpoint (`omni-moderation-latest` by default), through the SDK's
`client.moderations.create`: the category scores of the text read against the session's
rating (`thresholds.py`). Errors become domain errors here (`openai_errors.to_domain`); the
fallback to the local filter is `fallback.py`'s."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..core.errors import UpstreamUnavailable
from ..core.moderation import Verdict
from ..providers.openai_errors import to_domain
from .thresholds import refused

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from ..core.models import ContentRating
    from ..core.moderation import Direction

MODEL = "omni-moderation-latest"
# The longest input sent: a window and its context are far shorter; an action may be longer.
MAX_INPUT_CHARS = 8000


class OpenAIModerator:
    """A `Moderator` over an `AsyncOpenAI` client (its own retries off: a failed check falls
    back at once). Raises `UpstreamError` when the endpoint fails."""

    name = "openai"
    instant = False

    def __init__(self, client: AsyncOpenAI, model: str = MODEL, timeout: float = 2.0) -> None:
        self._client = client
        self._model = model
        self._timeout = timeout

    async def check(
        self, text: str, rating: ContentRating, direction: Direction, context: str = ""
    ) -> Verdict:
        scores = await self.scores(context + text)
        return Verdict(refused(scores, rating), self.name)

    async def scores(self, text: str) -> dict[str, float]:
        """The category scores of `text` (slash names, as the API spells them)."""
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.moderations.create(
                    input=text[:MAX_INPUT_CHARS], model=self._model, timeout=self._timeout
                )
        except TimeoutError:
            raise UpstreamUnavailable(f"moderation timed out after {self._timeout:g} s") from None
        except Exception as error:
            raise to_domain(error) from error
        return _scores(response)


def _scores(response: Any) -> dict[str, float]:
    """Scores of the first result, whatever the server left out (a category it does not
    know scores nothing)."""
    results = getattr(response, "results", None) or []
    if not results:
        raise UpstreamUnavailable("the moderation answer holds no result")
    raw = results[0].category_scores
    values = raw.model_dump(by_alias=True) if hasattr(raw, "model_dump") else dict(raw or {})
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float)}
