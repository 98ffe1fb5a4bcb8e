"""The one table from domain errors to gRPC status codes, with google.rpc details."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ..core import errors

if TYPE_CHECKING:
    from google.protobuf.message import Message

# Order matters: the first matching class wins (subclasses before their bases).
TABLE: tuple[tuple[type[errors.NarratorError], grpc.StatusCode], ...] = (
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.QuotaExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.SessionNotFound, grpc.StatusCode.NOT_FOUND),
    (errors.LoreEntryNotFound, grpc.StatusCode.NOT_FOUND),
    (errors.TurnNotFound, grpc.StatusCode.NOT_FOUND),
    (errors.UpstreamRateLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Overloaded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.TurnAborted, grpc.StatusCode.ABORTED),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.RequestRejected, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.UpstreamRejected, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.UpstreamUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.CoordinationUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
)
# An error status travels in trailers (gRPC caps them near 16 KiB): list this many violations,
# then one that counts the rest; each description and field is cut to a bounded length.
MAX_VIOLATIONS = 20
MAX_MESSAGE_CHARS = 1000


def _details(error: errors.NarratorError) -> list[any_pb2.Any]:
    packed: list[Message] = []
    if isinstance(error, errors.InvalidArgument):
        shown = error.violations[:MAX_VIOLATIONS]
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field[:200], description=v.description[:300]
                )
                for v in shown
            ]
        )
        if len(error.violations) > len(shown):
            bad.field_violations.add(
                field="(more)",
                description=f"{len(error.violations) - len(shown)} more violations not listed",
            )
        packed.append(bad)
    if isinstance(error, errors.QuotaExceeded):
        packed.append(_quota_failure(error))
    retry_after = getattr(error, "retry_after", None)
    retryable = (
        errors.UpstreamRateLimited
        | errors.UpstreamUnavailable
        | errors.Overloaded
        | errors.StoreUnavailable
        | errors.CoordinationUnavailable
        | errors.QuotaExceeded
    )
    if isinstance(error, retryable):
        seconds = retry_after if retry_after is not None else 1.0
        delay = duration_pb2.Duration(
            seconds=int(seconds), nanos=int((seconds - math.floor(seconds)) * 1e9)
        )
        packed.append(error_details_pb2.RetryInfo(retry_delay=delay))
    out = []
    for detail in packed:
        any_message = any_pb2.Any()
        any_message.Pack(detail)
        out.append(any_message)
    return out


def _quota_failure(error: errors.QuotaExceeded) -> error_details_pb2.QuotaFailure:
    return error_details_pb2.QuotaFailure(
        violations=[
            error_details_pb2.QuotaFailure.Violation(
                subject=v.subject[:200],
                description=v.description[:300],
                quota_id=v.limit,
                quota_value=v.capacity,
            )
            for v in error.violations[:MAX_VIOLATIONS]
        ]
    )


def to_status(error: errors.NarratorError) -> grpc.Status:
    """The rich status for a domain error (INTERNAL for one the table does not know)."""
    code = next((c for cls, c in TABLE if isinstance(error, cls)), grpc.StatusCode.INTERNAL)
    message = str(error) if code is not grpc.StatusCode.INTERNAL else "internal error"
    if isinstance(error, errors.InvalidArgument) and len(error.violations) > MAX_VIOLATIONS:
        message = "; ".join(f"{v.field}: {v.description}" for v in error.violations[:3])
        message += f" (and {len(error.violations) - 3} more)"
    message = message[:MAX_MESSAGE_CHARS]
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name), message=message, details=_details(error)
    )
    return rpc_status.to_status(status)
