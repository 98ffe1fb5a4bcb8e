"""Who is calling: the `Caller` the authentication interceptor set for this RPC's task."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.models import LOCAL, Caller

if TYPE_CHECKING:
    import grpc.aio

PLAYER_HEADER = "x-narrator-player"
MAX_PLAYER_CHARS = 128

CURRENT: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("caller", default=None)


@dataclass
class RpcAudit:
    """What the interceptors learn about one RPC for its audit line: the outer (telemetry)
    interceptor creates it, the authentication interceptor fills in the caller."""

    caller: Caller | None = None


AUDIT: contextvars.ContextVar[RpcAudit | None] = contextvars.ContextVar("audit", default=None)


def player_of(metadata: object) -> str:
    """The player the game's backend names in metadata (printable, bounded; "" when absent)."""
    for key, value in metadata or ():  # type: ignore[attr-defined]
        if key == PLAYER_HEADER and isinstance(value, str):
            return "".join(c for c in value[: MAX_PLAYER_CHARS * 2] if c.isprintable()).strip()[
                :MAX_PLAYER_CHARS
            ]
    return ""


def caller_of(context: grpc.aio.ServicerContext[object, object]) -> Caller:
    """The authenticated caller; without an authentication interceptor, the open mode's."""
    caller = CURRENT.get()
    if caller is not None:
        return caller
    player = player_of(context.invocation_metadata())
    return Caller(LOCAL.tenant, LOCAL.key_id, player)
