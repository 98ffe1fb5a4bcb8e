"""Builds the provider chain the settings ask for: upstream (if any), then the offline fallback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import openai

from .fallback import FallbackProvider
from .offline import OfflineProvider
from .openai_chat import OpenAIProvider
from .retry import RetryPolicy

if TYPE_CHECKING:
    from ..core.ports import ChatProvider
    from ..settings import Settings
    from ..telemetry import Telemetry


def build(
    settings: Settings, telemetry: Telemetry
) -> tuple[ChatProvider, openai.AsyncOpenAI | None]:
    """The provider for every turn, and the shared upstream client to close at shutdown."""
    offline = OfflineProvider(settings.offline_pace_ms / 1000, telemetry)
    if not settings.uses_upstream:
        return offline, None
    client = openai.AsyncOpenAI(
        # Local OpenAI-compatible servers often need no key; the SDK insists on one.
        api_key=settings.openai_api_key or "not-needed",
        base_url=settings.openai_base_url or None,
        max_retries=0,  # tenacity is the only retry layer
    )
    upstream = OpenAIProvider(
        client,
        settings.model,
        RetryPolicy(
            max_attempts=settings.retry_max_attempts,
            initial_wait=settings.retry_initial_wait_s,
            max_wait=settings.retry_max_wait_s,
            jitter=settings.retry_initial_wait_s,
            max_retry_after=settings.max_retry_after_s,
        ),
        timeout=settings.upstream_timeout_s,
        telemetry=telemetry,
    )
    if not settings.fallback:
        return upstream, client
    provider: ChatProvider = FallbackProvider(upstream, offline, telemetry)
    return provider, client
