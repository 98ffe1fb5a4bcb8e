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


class NarratorError(Exception):
    """A call failed. `code` says what to do: INVALID_ARGUMENT (fix `field_violations`),
    NOT_FOUND (create a new session), RESOURCE_EXHAUSTED / UNAVAILABLE (retry after
    `retry_after` seconds), DEADLINE_EXCEEDED, CANCELLED."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field_violations: tuple[FieldViolation, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = field_violations
        self.retry_after = retry_after

    @classmethod
    def from_rpc(cls, error: grpc.aio.AioRpcError) -> NarratorError:
        violations: list[FieldViolation] = []
        retry_after = None
        status = rpc_status.from_call(error)
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                retry_after = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
        return cls(error.code(), error.details() or "", tuple(violations), retry_after)
