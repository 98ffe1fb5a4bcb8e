"""Builds the provider chain the settings ask for: the upstreams in order, then offline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import openai

from ..core.breaker import BreakerPolicy, CircuitBreaker
from .chain import ProviderChain, Upstream, UpstreamSlots
from .http1 import Http1Transport
from .openai_chat import OpenAIProvider
from .retry import RetryPolicy
from .stall import StallPolicy

if TYPE_CHECKING:
    from ..core.schema_work import SchemaWork
    from ..settings import Settings
    from ..telemetry import Telemetry


Transport = Literal["fast", "httpx"]


def openai_client(base_url: str, api_key: str, transport: Transport = "fast") -> openai.AsyncOpenAI:
    """The SDK's client without its own retries, over the lean HTTP/1.1 transport (`fast`)
    or the SDK's own (`httpx`). An upstream the environment sends through a proxy always
    gets the SDK's own: httpx honours the proxy variables only without a custom transport."""
    fast = transport == "fast" and not _proxied(base_url or "https://api.openai.com/v1")
    return openai.AsyncOpenAI(
        # Local OpenAI-compatible servers often need no key; the SDK insists on one.
        api_key=api_key or "not-needed",
        base_url=base_url or None,
        max_retries=0,  # tenacity is the only retry layer
        http_client=openai.DefaultAsyncHttpxClient(transport=Http1Transport() if fast else None),
    )


def _proxied(base_url: str) -> bool:
    """The standard proxy variables (as urllib and httpx read them) name a proxy for it."""
    url = urlsplit(base_url)
    proxies = getproxies()
    if not (proxies.get(url.scheme) or proxies.get("all")):
        return False
    return not proxy_bypass(url.hostname or "")


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
    stalls = StallPolicy(
        s.first_token_timeout_s, s.inter_token_timeout_s, s.stall_floor_s, s.stall_factor
    )
    breaker = BreakerPolicy(
        consecutive_failures=s.breaker_failures,
        failure_rate=s.breaker_failure_rate,
        cooldown=s.breaker_cooldown_s,
    )
    clients, upstreams = [], []
    for upstream in s.upstreams:
        client = openai_client(upstream.base_url, upstream.api_key, s.upstream_transport)
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
        breakers = CircuitBreaker(breaker)
        upstreams.append(Upstream(upstream.name, provider, breakers, upstream.host, upstream.model))
    fallback = None
    if s.fallback or not upstreams:
        # The offline narrator's word lists load only where it may narrate.
        from .offline import OfflineProvider

        fallback = OfflineProvider(s.offline_pace_ms / 1000, telemetry, schemas)
    chain = ProviderChain(upstreams, fallback, UpstreamSlots(s.max_upstream_requests), telemetry)
    return chain, clients
