"""Policy: when the primary provider gives up before its first word, another one speaks."""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import TYPE_CHECKING

from opentelemetry import trace

from ..core.errors import UpstreamError
from ..core.ports import StreamOpened
from ..telemetry import Telemetry

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from ..core.ports import ChatEvent, ChatProvider, ChatRequest

log = logging.getLogger(__name__)


class FallbackProvider:
    """A `ChatProvider` that tries `primary`, then `fallback` if primary failed unopened."""

    def __init__(
        self, primary: ChatProvider, fallback: ChatProvider, telemetry: Telemetry | None = None
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self._telemetry = telemetry or Telemetry.disabled()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        opened = False
        try:
            async with aclosing(self.primary.stream(request)) as events:
                async for event in events:
                    opened = opened or isinstance(event, StreamOpened)
                    yield event
            return
        except UpstreamError as error:
            if opened:
                raise
            reason = type(error).__name__
            trace.get_current_span().add_event("narrator.fallback", {"error.type": reason})
            self._telemetry.fallbacks.add(1, {"error.type": reason})
            log.warning(
                "upstream failed before the first word; the offline narrator takes over",
                extra={"error_type": reason, "turn_id": request.context.turn_id},
            )
        async with aclosing(self.fallback.stream(request)) as events:
            async for event in events:
                yield event
