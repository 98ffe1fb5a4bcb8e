"""Server interceptor: a SERVER span per RPC (continuing the caller's traceparent), RPC metrics
and the audit line ("rpc finished": who called, which session and turn, the status code and the
tokens; never a secret, never player text). The authentication interceptor runs inside this
one and fills in the caller (`caller.AUDIT`)."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .caller import AUDIT, RpcAudit

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from ..telemetry import Telemetry

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()
TRACED_PREFIX = "/narrator."
TURN_METHODS = frozenset({"Narrate", "Decide"})  # their completed event carries their tokens
# Client strings reach spans and logs before any validation: each is cut to this length.
MAX_CLIENT_CHARS = 128
MAX_ERROR_CHARS = 300


def clip(value: str, limit: int = MAX_CLIENT_CHARS) -> str:
    """A client's string, bounded for a log field or span attribute (the cut is marked)."""
    return value if len(value) <= limit else value[:limit] + "…"


class _Rpc:
    """One RPC's span, timing and attributes, from start to its status code."""

    def __init__(self, telemetry: Telemetry, method: str, request: Any, context: Any) -> None:
        self.telemetry = telemetry
        service, _, name = method.lstrip("/").rpartition("/")
        self.attributes: dict[str, str] = {
            "rpc.system": "grpc",
            "rpc.service": service,
            "rpc.method": name,
        }
        carrier = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        self.span = telemetry.tracer.start_span(
            f"{service}/{name}",
            context=_PROPAGATOR.extract(carrier),
            kind=SpanKind.SERVER,
            attributes=self.attributes,
        )
        self.session_id = clip(str(getattr(request, "session_id", "") or ""))
        if self.session_id:
            self.span.set_attribute("gen_ai.conversation.id", self.session_id)
        self.token = otel_context.attach(trace.set_span_in_context(self.span))
        self.audit = RpcAudit()
        self.audit_token = AUDIT.set(self.audit)
        self.started = time.monotonic()
        self.turn_id = ""
        self.turns = name in TURN_METHODS
        self.tokens: tuple[int, int] = (0, 0)
        if log.isEnabledFor(logging.DEBUG):  # the audit line at its end is the one per call
            log.debug("rpc started", extra={"rpc": name, "session_id": self.session_id})

    def note(self, message: Any) -> None:
        """Reads what the audit line needs from a streamed message."""
        if not self.turns:
            return
        event = message.WhichOneof("event")
        if event == "started":
            self.turn_id = clip(message.started.turn_id)
            self.span.set_attribute("narrator.turn_id", self.turn_id)
            self.span.set_attribute("narrator.provider", message.started.provider)
        elif event == "completed":
            usage = message.completed.usage
            self.tokens = (usage.input_tokens, usage.output_tokens)

    def note_response(self, response: Any) -> None:
        """A unary response: a created session's id."""
        session = getattr(response, "session", None)
        if not self.session_id and session is not None and session.session_id:
            self.session_id = session.session_id
            self.span.set_attribute("gen_ai.conversation.id", self.session_id)

    def end(self, code: grpc.StatusCode, error: BaseException | None, details: str = "") -> None:
        seconds = time.monotonic() - self.started
        caller = self.audit.caller
        if caller is not None:
            self.span.set_attribute("narrator.tenant", caller.tenant)
            self.span.set_attribute("narrator.key_id", caller.key_id)
        self.span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
            self.span.add_event("rpc.cancelled", {"rpc.grpc.status_code": code.name})
        if code is not grpc.StatusCode.OK:
            self.span.set_status(Status(StatusCode.ERROR, code.name))
        self.span.end()
        # A stream abandoned by its client is closed by the event loop's async-generator
        # finalizer, in another context: the token cannot be reset there, nor needs to be.
        if not isinstance(error, GeneratorExit):
            otel_context.detach(self.token)
            AUDIT.reset(self.audit_token)
        metric = {**self.attributes, "rpc.grpc.status_code": code.name}
        self.telemetry.rpc_duration.record(seconds, metric)
        level = logging.INFO if code is grpc.StatusCode.OK else logging.WARNING
        fields: dict[str, object] = {
            "rpc": self.attributes["rpc.method"],
            "code": code.name,
            "duration_ms": round(seconds * 1000, 1),
            "session_id": self.session_id,
            "turn_id": self.turn_id,
            # Who: unknown ("") when the call was refused before its key was read.
            "tenant": caller.tenant if caller else "",
            "key_id": caller.key_id if caller else "",
            "player": caller.player if caller else "",
            "input_tokens": self.tokens[0],
            "output_tokens": self.tokens[1],
        }
        if code is not grpc.StatusCode.OK and details:
            fields["error"] = clip(details, MAX_ERROR_CHARS)
        log.log(level, "rpc finished", extra=fields)


def _code(context: Any, error: BaseException | None) -> grpc.StatusCode:
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        remaining = context.time_remaining()
        expired = remaining is not None and remaining <= 0
        return grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
    code = context.code()
    if code is None or isinstance(code, int):
        # grpc.aio keeps the aborted code as a grpc.StatusCode; anything else is a bug path.
        return grpc.StatusCode.UNKNOWN if error is not None else grpc.StatusCode.OK
    return code


def _details(context: Any) -> str:
    """The status message the handler set (the error table's, already bounded)."""
    details = context.details()
    if isinstance(details, bytes):
        details = details.decode("utf-8", "replace")
    return details if isinstance(details, str) else ""


class TelemetryInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        details: Any,
    ) -> Any:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or not method.startswith(TRACED_PREFIX):
            return handler
        serializers = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method), **serializers
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream, method), **serializers
            )
        return handler

    def _unary(self, behavior: Any, method: str) -> Callable[[Any, Any], Awaitable[Any]]:
        async def traced(request: Any, context: Any) -> Any:
            rpc = _Rpc(self._telemetry, method, request, context)
            error: BaseException | None = None
            try:
                response = await behavior(request, context)
                rpc.note_response(response)
                return response
            except BaseException as e:
                error = e
                raise
            finally:
                rpc.end(_code(context, error), error, _details(context))
                # The error's traceback holds this frame: let go of it, or each failed
                # call leaves a cycle (with everything its frames held) for the collector.
                error = None

        return traced

    def _stream(self, behavior: Any, method: str) -> Callable[[Any, Any], AsyncGenerator[Any]]:
        telemetry = self._telemetry

        async def traced(request: Any, context: Any) -> AsyncGenerator[Any]:
            rpc = _Rpc(telemetry, method, request, context)
            active = rpc.attributes
            telemetry.active_streams.add(1, active)
            error: BaseException | None = None
            try:
                async with aclosing(behavior(request, context)) as messages:
                    async for message in messages:
                        rpc.note(message)
                        yield message
            except BaseException as e:
                error = e
                raise
            finally:
                telemetry.active_streams.add(-1, active)
                rpc.end(_code(context, error), error, _details(context))
                error = None  # see `_unary`

        return traced
