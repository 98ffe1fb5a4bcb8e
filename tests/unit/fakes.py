"""Fakes for core tests: a scripted chat provider (the store fake is store.memory)."""

from __future__ import annotations

import asyncio
import time
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
    # None: a rest a push is told of (`Tap.rest`) is noted, not taken. A number: taken, with
    # the tap's `resting` set, and overslept by that much (a provider whose loop ran late).
    rest_late: float | None = None


class ScriptedProvider:
    """Answers each request with the next script; records requests; notes early closes.
        With `pushes`, each chunk is first offered to the request's tap, as the OpenAI provider
        offers what it reads while it waits (`core/tap.py`); `pushed` counts those taken and `rests`
    holds what each was told it may rest."""

    pushes = False

    def __init__(self, name: str, *scripts: Script) -> None:
        self.name = name
        self.scripts = list(scripts)
        self.requests: list[ChatRequest] = []
        self.closed_early = 0
        self.pushed = 0
        self.rests: list[float] = []
        self.rest_ends: list[float] = []  # when each rest told would end (monotonic clock)
        self.asked: list[tuple[float, float]] = []  # (when, for how long) `rest_now` was asked

    def _asked_to_rest(self, seconds: float) -> bool:
        """`Tap.rest_now`: noted, never taken."""
        self.asked.append((time.monotonic(), seconds))
        return False

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
                tap = request.tap
                if self.pushes and tap is not None and tap.top.rest_now is None:
                    tap.top.rest_now = self._asked_to_rest
                if self.pushes and tap is not None and tap.push(chunk):
                    self.pushed += 1
                    self.rests.append(tap.rest())
                    self.rest_ends.append(time.monotonic() + self.rests[-1])
                    if script.rest_late is not None and self.rests[-1] > 0:
                        tap.top.resting = True
                        await asyncio.sleep(self.rests[-1] + script.rest_late)
                        tap.top.resting = False
                    continue
                yield TextChunk(chunk)
            yield StreamFinished(FinishReason.STOP, Usage(10, len(script.chunks)))
            finished = True
        finally:
            if not finished:
                self.closed_early += 1
