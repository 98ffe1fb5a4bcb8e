"""OpenAI's moderation endpoint through the real SDK against the fake upstream over HTTP, and
the local filter standing in when it fails."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from narrator_server.core.errors import UpstreamError, UpstreamUnavailable
from narrator_server.core.models import ContentRating
from narrator_server.core.moderation import Direction
from narrator_server.moderation.fallback import FallbackModerator
from narrator_server.moderation.lexicon import LexiconModerator
from narrator_server.moderation.metrics import ModerationMetrics
from narrator_server.moderation.openai_moderation import OpenAIModerator
from narrator_server.providers.factory import openai_client

if TYPE_CHECKING:
    from narrator_server.testing.fake_openai import FakeOpenAI

E, T, M = ContentRating.EVERYONE, ContentRating.TEEN, ContentRating.MATURE
OUT = Direction.OUTPUT


def moderator(upstream: FakeOpenAI, timeout: float = 2.0) -> OpenAIModerator:
    return OpenAIModerator(openai_client(upstream.base_url, "sk-test"), timeout=timeout)


async def test_scores_are_read_against_each_rating(upstream: FakeOpenAI) -> None:
    upstream.moderations.flag("entrails", {"violence/graphic": 0.7, "violence": 0.95})
    upstream.moderations.flag("sword", {"violence": 0.6})
    m = moderator(upstream)
    gore = "The troll's entrails spill across the stones."
    assert (await m.check(gore, E, OUT)).category == "violence/graphic"
    assert (await m.check(gore, T, OUT)).category == "violence/graphic"
    mature = await m.check(gore, M, OUT)
    assert not mature.refused  # mature allows graphic violence
    assert mature.source == "openai"
    fight = "You parry the sword and strike back."
    assert not (await m.check(fight, E, OUT)).refused  # violence 0.6 < 0.9 at everyone
    assert not (await m.check(fight, T, OUT)).refused
    assert upstream.moderations.models_asked[-1] == "omni-moderation-latest"
    assert upstream.moderations.received[-1] == fight


async def test_never_allowed_at_mature(upstream: FakeOpenAI) -> None:
    upstream.moderations.flag("minor", {"sexual/minors": 0.2})
    upstream.moderations.flag("recipe", {"illicit/violent": 0.6})
    upstream.moderations.flag("sensual", {"sexual": 0.85})
    m = moderator(upstream)
    assert (await m.check("a minor ...", M, OUT)).category == "sexual/minors"
    assert (await m.check("the recipe ...", M, OUT)).category == "illicit"
    assert (await m.check("a sensual ...", M, OUT)).category == "sexual"


async def test_the_context_is_read_with_the_window(upstream: FakeOpenAI) -> None:
    m = moderator(upstream)
    await m.check("and then this.", T, OUT, context="What came before. ")
    assert upstream.moderations.received[-1] == "What came before. and then this."


async def test_failures_become_domain_errors(upstream: FakeOpenAI) -> None:
    upstream.moderations.status = 503
    with pytest.raises(UpstreamError):
        await moderator(upstream).check("text", T, OUT)
    upstream.moderations.status, upstream.moderations.delay = 200, 1.0
    with pytest.raises(UpstreamUnavailable):
        await moderator(upstream, timeout=0.05).check("text", T, OUT)


def _fallbacks(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    out: dict[str, int] = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == "narrator.moderation.fallbacks":
                    for point in metric.data.data_points:  # type: ignore[union-attr]
                        reason = str(point.attributes["narrator.moderation.reason"])
                        out[reason] = out.get(reason, 0) + int(point.value)
    return out


async def test_a_failing_endpoint_falls_back_to_the_local_filter(upstream: FakeOpenAI) -> None:
    reader = InMemoryMetricReader()
    metrics = ModerationMetrics(MeterProvider(metric_readers=[reader]).get_meter("t"))
    now = [0.0]
    m = FallbackModerator(moderator(upstream), LexiconModerator(), metrics, 30.0, lambda: now[0])
    upstream.moderations.status = 500
    verdict = await m.check("Blood pools around the corpse.", E, OUT)
    assert verdict.category == "violence"  # the lexicon decided, not an error
    assert verdict.source == "local (for openai)"
    asked = len(upstream.moderations.received)
    # Cooling down: the endpoint is not asked again, the lexicon answers.
    assert not (await m.check("You swing your sword.", T, OUT)).refused
    assert len(upstream.moderations.received) == asked
    assert _fallbacks(reader) == {"UpstreamUnavailable": 1, "cooling_down": 1}
    # After the cooldown the endpoint is asked again and decides.
    now[0] = 31.0
    upstream.moderations.status = 200
    verdict = await m.check("Blood pools around the corpse.", E, OUT)
    assert verdict == verdict.__class__("", "openai")
    assert len(upstream.moderations.received) == asked + 1
