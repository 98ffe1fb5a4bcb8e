"""`NarratorError`: a failed call with its status code and decoded google.rpc details."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.rpc import error_details_pb2
from grpc_status import rpc_status

if TYPE_CHECKING:
    import grpc


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass(frozen=True)
class QuotaViolation:
    """A quota the caller is over: `limit` (requests_per_minute, tokens_per_minute,
    tokens_per_day, player_requests_per_minute), whose (`subject`: "key:ID", "player:NAME" or
    "session:ID"), its value, and a sentence saying it."""

    limit: str
    subject: str
    value: int
    description: str


class NarratorError(Exception):
    """A call failed. `code` says what to do: INVALID_ARGUMENT (fix `field_violations`),
    UNAUTHENTICATED (the API key is missing, wrong or revoked), NOT_FOUND (create a new
    session), RESOURCE_EXHAUSTED / UNAVAILABLE (retry after `retry_after` seconds; a quota
    says which in `quota_violations`), DEADLINE_EXCEEDED, CANCELLED."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field_violations: tuple[FieldViolation, ...] = (),
        retry_after: float | None = None,
        quota_violations: tuple[QuotaViolation, ...] = (),
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = field_violations
        self.retry_after = retry_after
        self.quota_violations = quota_violations

    @classmethod
    def from_rpc(cls, error: grpc.aio.AioRpcError) -> NarratorError:
        violations: list[FieldViolation] = []
        quotas: list[QuotaViolation] = []
        retry_after = None
        status = rpc_status.from_call(error)
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
                failure = error_details_pb2.QuotaFailure()
                detail.Unpack(failure)
                quotas += [
                    QuotaViolation(v.quota_id, v.subject, v.quota_value, v.description)
                    for v in failure.violations
                ]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                retry_after = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
        return cls(
            error.code(), error.details() or "", tuple(violations), retry_after, tuple(quotas)
        )
