"""Per-key metrics, read from the usage book when /metrics is scraped (key ids, never secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.metrics import CallbackOptions, Observation

if TYPE_CHECKING:
    from collections.abc import Iterable

    from opentelemetry.metrics import Meter

    from ..core.usage import UsageBook

KEY_ID = "narrator.key_id"


def observe_keys(meter: Meter, book: UsageBook) -> None:
    """narrator.key.requests, narrator.key.tokens (by gen_ai.token.type) and
    narrator.quota.denials (by limit), each by key id, counted since the server started."""

    def requests(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(u.requests, {KEY_ID: k}) for k, u in list(book.totals.items())]

    def tokens(_: CallbackOptions) -> Iterable[Observation]:
        out = []
        for key_id, usage in list(book.totals.items()):
            for kind, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
                out.append(Observation(count, {KEY_ID: key_id, "gen_ai.token.type": kind}))
        return out

    def denials(_: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(n, {KEY_ID: key_id, "narrator.limit": limit})
            for (key_id, limit), n in list(book.denials.items())
        ]

    meter.create_observable_counter(
        "narrator.key.requests",
        [requests],
        unit="{request}",
        description="Requests admitted, by API key id.",
    )
    meter.create_observable_counter(
        "narrator.key.tokens",
        [tokens],
        unit="{token}",
        description="Tokens used by turns, by API key id and gen_ai.token.type.",
    )
    meter.create_observable_counter(
        "narrator.quota.denials",
        [denials],
        unit="{request}",
        description="Calls refused for a quota, by API key id and limit.",
    )
