"""Fakes for core tests: a scripted chat provider (the store fake is store.memory)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from narrator_server.core.models import FinishReason, Usage
from narrator_server.core.ports import StreamFinished, StreamOpened, TextChunk

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from narrator_server.core.ports import ChatEvent, ChatRequest


@dataclass
class Script:
    chunks: list[str] = field(default_factory=lambda: ["Hello ", "there."])
    fail_before_open: Exception | None = None
    fail_after: int | None = None
    fail_with: Exception | None = None
    pause: float = 0.0


class ScriptedProvider:
    """Answers each request with the next script; records requests; notes early closes.
    With `pushes`, each chunk is first offered to the request's tap, as the OpenAI provider
    offers what it reads while it waits (`core/tap.py`); `pushed` counts those taken."""

    pushes = False

    def __init__(self, name: str, *scripts: Script) -> None:
        self.name = name
        self.scripts = list(scripts)
        self.requests: list[ChatRequest] = []
        self.closed_early = 0
        self.pushed = 0

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        self.requests.append(request)
        script = self.scripts.pop(0) if self.scripts else Script()
        if script.fail_before_open:
            raise script.fail_before_open
        finished = False
        try:
            yield StreamOpened(self.name, f"{self.name}-model")
            for i, chunk in enumerate(script.chunks):
                if i == script.fail_after:
                    assert script.fail_with is not None
                    raise script.fail_with
                await asyncio.sleep(script.pause)
                if self.pushes and request.tap is not None and request.tap.push(chunk):
                    self.pushed += 1
                    continue
                yield TextChunk(chunk)
            yield StreamFinished(FinishReason.STOP, Usage(10, len(script.chunks)))
            finished = True
        finally:
            if not finished:
                self.closed_early += 1
