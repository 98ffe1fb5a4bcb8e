"""Builds the provider chain the settings ask for: the upstreams in order, then offline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import openai

from ..core.breaker import BreakerPolicy, CircuitBreaker
from .chain import ProviderChain, Upstream, UpstreamSlots
from .offline import OfflineProvider
from .openai_chat import OpenAIProvider, StallPolicy
from .retry import RetryPolicy

if TYPE_CHECKING:
    from ..core.schema_work import SchemaWork
    from ..settings import Settings
    from ..telemetry import Telemetry


def build(
    settings: Settings, telemetry: Telemetry, schemas: SchemaWork | None = None
) -> tuple[ProviderChain, list[openai.AsyncOpenAI]]:
    """The provider for every turn, and the upstream clients to close at shutdown (one shared
    client per upstream, its connection pool sized for the stream limit)."""
    s = settings
    retry = RetryPolicy(
        max_attempts=s.retry_max_attempts,
        initial_wait=s.retry_initial_wait_s,
        max_wait=s.retry_max_wait_s,
        jitter=s.retry_initial_wait_s,
        max_retry_after=s.max_retry_after_s,
    )
    stalls = StallPolicy(s.first_token_timeout_s, s.inter_token_timeout_s)
    breaker = BreakerPolicy(
        consecutive_failures=s.breaker_failures,
        failure_rate=s.breaker_failure_rate,
        cooldown=s.breaker_cooldown_s,
    )
    clients, upstreams = [], []
    for upstream in s.upstreams:
        client = openai.AsyncOpenAI(
            # Local OpenAI-compatible servers often need no key; the SDK insists on one.
            api_key=upstream.api_key or "not-needed",
            base_url=upstream.base_url or None,
            max_retries=0,  # tenacity is the only retry layer
        )
        clients.append(client)
        provider = OpenAIProvider(
            client,
            upstream.model,
            retry,
            timeout=s.upstream_timeout_s,
            telemetry=telemetry,
            stalls=stalls,
            name=upstream.name,
        )
        upstreams.append(Upstream(upstream.name, provider, CircuitBreaker(breaker)))
    offline = OfflineProvider(s.offline_pace_ms / 1000, telemetry, schemas)
    fallback = offline if s.fallback or not upstreams else None
    chain = ProviderChain(upstreams, fallback, UpstreamSlots(s.max_upstream_requests), telemetry)
    return chain, clients
