"""Server interceptor: a SERVER span per RPC (continuing the caller's traceparent), RPC metrics
and start/end log lines. The seam where auth or per-player limits would also go."""

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

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from ..telemetry import Telemetry

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()
TRACED_PREFIX = "/narrator."
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
        self.started = time.monotonic()
        self.turn_id = ""
        log.info("rpc started", extra={"rpc": name, "session_id": self.session_id})

    def note_turn(self, message: Any) -> None:
        if message.WhichOneof("event") == "started":
            self.turn_id = clip(message.started.turn_id)
            self.span.set_attribute("narrator.turn_id", self.turn_id)
            self.span.set_attribute("narrator.provider", message.started.provider)

    def end(self, code: grpc.StatusCode, error: BaseException | None, details: str = "") -> None:
        seconds = time.monotonic() - self.started
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
        metric = {**self.attributes, "rpc.grpc.status_code": code.name}
        self.telemetry.rpc_duration.record(seconds, metric)
        level = logging.INFO if code is grpc.StatusCode.OK else logging.WARNING
        fields: dict[str, object] = {
            "rpc": self.attributes["rpc.method"],
            "code": code.name,
            "duration_ms": round(seconds * 1000, 1),
            "session_id": self.session_id,
            "turn_id": self.turn_id,
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
                return await behavior(request, context)
            except BaseException as e:
                error = e
                raise
            finally:
                rpc.end(_code(context, error), error, _details(context))

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
                    first = True
                    async for message in messages:
                        if first:
                            rpc.note_turn(message)
                            first = False
                        yield message
            except BaseException as e:
                error = e
                raise
            finally:
                telemetry.active_streams.add(-1, active)
                rpc.end(_code(context, error), error, _details(context))

        return traced
