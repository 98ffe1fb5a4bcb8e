"""Policy: when the primary provider gives up before its first word, another one speaks."""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import TYPE_CHECKING

from .errors import UpstreamError
from .ports import StreamOpened

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .ports import ChatEvent, ChatProvider, ChatRequest

log = logging.getLogger(__name__)


class FallbackProvider:
    """A `ChatProvider` that tries `primary`, then `fallback` if primary failed unopened."""

    def __init__(self, primary: ChatProvider, fallback: ChatProvider) -> None:
        self.primary = primary
        self.fallback = fallback

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
            log.warning(
                "upstream failed before the first word; the fallback narrator takes over",
                extra={"error_type": type(error).__name__, "turn_id": request.context.turn_id},
            )
        async with aclosing(self.fallback.stream(request)) as events:
            async for event in events:
                yield event
