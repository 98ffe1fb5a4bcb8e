"""Every NarratorService RPC with a request that passes validation, and one way to call any
of them: the matrices of the auth and tenancy tests (a new RPC fails `test_every_rpc_listed`
until it is added here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from narrator.v1 import memory_pb2, turn_pb2
from narrator.v1 import narrator_service_pb2 as pb

from ..support import SCENE

if TYPE_CHECKING:
    from collections.abc import Callable

    from google.protobuf.message import Message

    from narrator.v1 import narrator_service_pb2_grpc as pb_grpc

    from ..support import Metadata

SERVICE = pb.DESCRIPTOR.services_by_name["NarratorService"]

REQUESTS: dict[str, Callable[[str], Message]] = {
    "CreateSession": lambda _: pb.CreateSessionRequest(
        setting={"world": "a drowned city"}, player={"name": "Ash"}
    ),
    "GetSession": lambda sid: pb.GetSessionRequest(session_id=sid),
    "DeleteSession": lambda sid: pb.DeleteSessionRequest(session_id=sid),
    "Narrate": lambda sid: pb.NarrateRequest(session_id=sid, action="I listen", scene=SCENE),
    "Decide": lambda sid: pb.DecideRequest(
        session_id=sid,
        question="What does Grub do?",
        options=[
            turn_pb2.DecisionOption(id="attack", description="Grub attacks"),
            turn_pb2.DecisionOption(id="flee", description="Grub flees"),
        ],
        scene=SCENE,
    ),
    "WatchSession": lambda sid: pb.WatchSessionRequest(session_id=sid),
    "PutLoreEntry": lambda sid: pb.PutLoreEntryRequest(
        session_id=sid,
        entry=memory_pb2.LoreEntry(keys=["gate"], content="The north gate is rusted shut."),
    ),
    "ListLoreEntries": lambda sid: pb.ListLoreEntriesRequest(session_id=sid),
    "DeleteLoreEntry": lambda sid: pb.DeleteLoreEntryRequest(session_id=sid, entry_id="gate"),
    "GetTurnContext": lambda sid: pb.GetTurnContextRequest(session_id=sid),
    "ExportSession": lambda sid: pb.ExportSessionRequest(session_id=sid),
    "ImportSession": lambda _: pb.ImportSessionRequest(document="{}"),
}
SESSION_RPCS = sorted(
    n for n in REQUESTS if "session_id" in SERVICE.methods_by_name[n].input_type.fields_by_name
)


@dataclass(frozen=True)
class Outcome:
    """How a call ended: its code, message and details (serialized), and what it returned."""

    code: grpc.StatusCode
    message: str = ""
    details: bytes = b""
    responses: tuple[Any, ...] = ()


async def call(
    stub: pb_grpc.NarratorServiceStub, rpc: str, session_id: str, metadata: Metadata = ()
) -> Outcome:
    """Calls `rpc` and reads it to the end (streams too). Do not call WatchSession on a
    session that exists and is yours: it only ends when the session does."""
    method = getattr(stub, rpc)
    request = REQUESTS[rpc](session_id)
    streaming = SERVICE.methods_by_name[rpc].server_streaming
    try:
        if streaming:
            responses = tuple([m async for m in method(request, metadata=metadata)])
        else:
            responses = (await method(request, metadata=metadata),)
    except grpc.aio.AioRpcError as error:
        trailers = dict(error.trailing_metadata() or ())
        return Outcome(
            error.code(), error.details() or "", trailers.get("grpc-status-details-bin", b"")
        )
    return Outcome(grpc.StatusCode.OK, responses=responses)
