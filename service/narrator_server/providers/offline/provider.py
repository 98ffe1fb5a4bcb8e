"""The offline provider: streams the procedural narrator's text word by word."""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import aclosing
from typing import TYPE_CHECKING

from ...core.compact_json import dumps
from ...core.models import FinishReason, TurnKind, Usage
from ...core.ports import StreamFinished, StreamOpened, TextChunk
from ...core.prompt import estimate_tokens
from ...core.schema_work import SchemaWork
from ...telemetry import Telemetry
from ..attempt import Attempt
from . import prose

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from ...core.ports import ChatEvent, ChatRequest

MODEL = "narrator-offline-1"
_WORDS = re.compile(r"\S+\s*")


class OfflineProvider:
    """A `ChatProvider` with no model: scene-aware prose, seeded by session and turn."""

    name = "offline"

    def __init__(
        self,
        pace_seconds: float = 0.04,
        telemetry: Telemetry | None = None,
        schemas: SchemaWork | None = None,
    ) -> None:
        self._pace = pace_seconds
        self._telemetry = telemetry or Telemetry.disabled()
        # Arguments are built off the event loop, like every schema's work.
        self._schemas = schemas or SchemaWork()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        attempt = Attempt(self._telemetry, "narrator.offline", MODEL, request)
        try:
            async with aclosing(self._events(request, attempt)) as events:
                async for event in events:
                    yield event
        except (asyncio.CancelledError, GeneratorExit):
            attempt.failed("cancelled")
            raise

    async def _events(
        self, request: ChatRequest, attempt: Attempt
    ) -> AsyncGenerator[ChatEvent, None]:
        ctx = request.context
        yield StreamOpened(self.name, MODEL)
        if ctx.kind is TurnKind.DECISION:
            option, text, names = prose.choose(ctx)
            words = [json.dumps(w, ensure_ascii=False)[1:-1] for w in _WORDS.findall(text)]
            built = await self._schemas.arguments(
                option.arguments_schema, names, ctx.scene.location
            )
            arguments = built if built is not None else {}
            chunks = [
                '{"rationale":"',
                *words,
                '","decision":',
                dumps({"option_id": option.id, "arguments": arguments}),
                "}",
            ]
        elif request.continuation:
            text = prose.continuation(ctx, request.continuation)
            chunks = [text[: len(text) - len(text.lstrip())], *_WORDS.findall(text)]
            chunks = [c for c in chunks if c]
        else:
            chunks = _WORDS.findall(prose.narration(ctx))
        for chunk in chunks:
            await asyncio.sleep(self._pace)
            attempt.chunk(chunk)
            yield TextChunk(chunk)
        prompt = sum(estimate_tokens(m.content) for m in request.messages)
        usage = Usage(prompt, len(chunks), estimated=True)  # no model counted these
        attempt.finished(FinishReason.STOP, usage, MODEL, "")
        yield StreamFinished(FinishReason.STOP, usage)
