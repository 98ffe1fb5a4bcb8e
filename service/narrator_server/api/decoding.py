"""Requests that cannot be decoded (invalid UTF-8 in a string field, broken protobuf) are
INVALID_ARGUMENT naming the field, with one WARNING line: never UNKNOWN and a traceback. So are
requests with a list longer than `MAX_LIST_ENTRIES`, before any of it is converted (4 MiB of
empty entries is two million of them: converting those alone would hold the event loop).

gRPC decodes a request with the method handler's `request_deserializer` before any servicer
code runs, and turns its exception into UNKNOWN. This interceptor wraps that deserializer: a
request that fails to decode becomes a `Refused` marker, and the wrapped behavior answers it
with the error table's status instead of calling the servicer.
"""

from __future__ import annotations

import inspect
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.descriptor import FieldDescriptor

from ..core.errors import FieldViolation, InvalidArgument
from .errors import to_status
from .interceptor import TRACED_PREFIX

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from google.protobuf.descriptor import Descriptor

log = logging.getLogger(__name__)
_MAX_NESTING = 32
# Far above every list limit of the API (the core reports those precisely): a cap on the work
# a request may cause before it is validated.
MAX_LIST_ENTRIES = 1000


class Refused:
    """A request refused as it was decoded, and the violation that says why."""

    def __init__(self, violation: FieldViolation) -> None:
        self.violation = violation


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def bad_utf8_field(descriptor: Descriptor, data: bytes, prefix: str = "", depth: int = 0) -> str:
    """The path of the first string field whose bytes are not UTF-8 ("" when none is found),
    read from the wire format with the message's descriptor."""
    if depth > _MAX_NESTING:
        return ""
    pos, seen = 0, dict[int, int]()
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            pos = _varint(data, pos)[1]
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        elif wire_type == 2:
            size, pos = _varint(data, pos)
            chunk, pos = data[pos : pos + size], pos + size
            field = descriptor.fields_by_number.get(number)
            if field is None:
                continue
            index = seen[number] = seen.get(number, -1) + 1
            path = prefix + field.name
            kind = field.message_type
            entry = kind is not None and kind.GetOptions().map_entry
            if field.is_repeated and not entry:
                path += f"[{index}]"
            if field.type == FieldDescriptor.TYPE_STRING:
                try:
                    chunk.decode("utf-8")
                except UnicodeDecodeError:
                    return path
            elif kind is not None:
                found = bad_utf8_field(kind, chunk, path + ".", depth + 1)
                if found:
                    return path if entry else found
        else:
            return ""  # groups: not in this contract
    return ""


def _violation(deserialize: Callable[[bytes], Any], data: bytes) -> FieldViolation:
    message_class = getattr(deserialize, "__self__", None)
    descriptor = getattr(message_class, "DESCRIPTOR", None)
    field = ""
    if descriptor is not None:
        try:
            field = bad_utf8_field(descriptor, data)
        except ValueError:
            field = ""
    if field:
        return FieldViolation(field, "is not valid UTF-8")
    return FieldViolation("(request)", "is not a valid protobuf message of this method")


def oversized_list(message: Any, prefix: str = "", depth: int = 0) -> FieldViolation | None:
    """The first list (repeated or map field) of the message, at any depth, longer than
    `MAX_LIST_ENTRIES` (len() of a decoded field costs nothing; nothing is converted)."""
    if depth > _MAX_NESTING or not hasattr(message, "ListFields"):
        return None
    for field, value in message.ListFields():
        path = prefix + field.name
        if field.is_repeated:
            if len(value) > MAX_LIST_ENTRIES:
                return FieldViolation(path, f"has {len(value)} entries; no list may have more "
                                      f"than {MAX_LIST_ENTRIES}")  # fmt: skip
            if field.message_type is not None and not field.message_type.GetOptions().map_entry:
                for i, item in enumerate(value):
                    found = oversized_list(item, f"{path}[{i}].", depth + 1)
                    if found:
                        return found
        elif field.message_type is not None:
            found = oversized_list(value, path + ".", depth + 1)
            if found:
                return found
    return None


def _safe(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            message = deserialize(data)
        except Exception:
            return Refused(_violation(deserialize, data))
        too_long = oversized_list(message)
        return message if too_long is None else Refused(too_long)

    return decode


async def _refuse(request: Refused, context: Any, method: str) -> None:
    if not method.startswith(TRACED_PREFIX):  # traced RPCs get their line from the telemetry
        log.warning(
            "request refused as it was decoded",
            extra={"rpc": method[-100:], "field": request.violation.field[:200]},
        )
    await context.abort_with_status(to_status(InvalidArgument([request.violation])))


class DecodingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps the request deserializer of every unary-request method (see the module)."""

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method: str = details.method
        serializers = {
            "request_deserializer": _safe(handler.request_deserializer),
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, method), **serializers
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _stream(handler.unary_stream, method), **serializers
            )
        return handler


def _unary(behavior: Any, method: str) -> Callable[[Any, Any], Awaitable[Any]]:
    async def decoded(request: Any, context: Any) -> Any:
        if isinstance(request, Refused):
            return await _refuse(request, context, method)
        return await behavior(request, context)

    return decoded


def _stream(behavior: Any, method: str) -> Callable[[Any, Any], Any]:
    if not inspect.isasyncgenfunction(behavior):  # it writes with context.write() (health)
        return _unary(behavior, method)

    async def decoded(request: Any, context: Any) -> AsyncGenerator[Any]:
        if isinstance(request, Refused):
            await _refuse(request, context, method)
            return
        async with aclosing(behavior(request, context)) as messages:
            async for message in messages:
                yield message

    return decoded
