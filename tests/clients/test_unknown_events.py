"""A newer server's event kinds are skipped by the Python client, never raised mid-stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

from narrator import NarratorClient, TextDelta, TurnCompleted, TurnStarted
from narrator.events import decode
from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import turn_pb2

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# A NarrateResponse whose oneof member is field 99 (unknown to this client): a future event.
FUTURE_EVENT = b"\x9a\x06\x02\x08\x01"


def test_an_unknown_oneof_member_decodes_to_nothing() -> None:
    message = pb.NarrateResponse.FromString(FUTURE_EVENT)
    assert message.WhichOneof("event") is None
    assert decode(message) is None
    assert decode(pb.DecideResponse.FromString(FUTURE_EVENT)) is None


async def test_the_client_skips_unknown_events_and_reads_on() -> None:
    messages = [
        pb.NarrateResponse(started=turn_pb2.TurnStarted(turn_id="t", provider="p", model="m")),
        pb.NarrateResponse(delta=turn_pb2.TextDelta(seq=1, text="Hello ")),
        None,
        pb.NarrateResponse(delta=turn_pb2.TextDelta(seq=2, text="there.")),
        pb.NarrateResponse(completed=turn_pb2.TurnCompleted(text="Hello there.")),
    ]

    async def narrate(request: bytes, context: Any) -> AsyncIterator[bytes]:
        for message in messages:
            yield FUTURE_EVENT if message is None else message.SerializeToString()

    server = grpc.aio.server()
    handler = grpc.unary_stream_rpc_method_handler(narrate)  # raw bytes both ways
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("narrator.v1.NarratorService", {"Narrate": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with NarratorClient(f"127.0.0.1:{port}") as client:
            result = await client.collect(client.narrate("s", "I wave"))
    finally:
        await server.stop(0)
    assert isinstance(result.started, TurnStarted)
    assert [d.seq for d in result.deltas] == [1, 2]
    assert all(isinstance(d, TextDelta) for d in result.deltas)
    assert isinstance(result.completed, TurnCompleted)
    assert result.completed.text == result.text == "Hello there."
