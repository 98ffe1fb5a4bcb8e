"""Shared test helpers: a real server on port 0, a stub for it, and stream collectors."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
from grpc_status import rpc_status

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import scene_pb2, session_pb2
from narrator_server.app import App
from narrator_server.core.keys import new_key
from narrator_server.core.models import KeyLimits
from narrator_server.settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from google.protobuf.message import Message


def settings(data_dir: Path, **overrides: Any) -> Settings:
    base = Settings(host="127.0.0.1", port=0, data_dir=data_dir, offline_pace_ms=0, metrics_port=-1)
    return base.model_copy(update=overrides)


@dataclass
class Running:
    app: App
    channel: grpc.aio.Channel
    stub: pb_grpc.NarratorServiceStub


@contextlib.asynccontextmanager
async def serve(config: Settings, **app_options: Any) -> AsyncIterator[Running]:
    app = App(config, **app_options)
    port = await app.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(app, channel, pb_grpc.NarratorServiceStub(channel))
    finally:
        await channel.close()
        await app.stop(grace=0)


SCENE = scene_pb2.Scene(
    location="the flooded crypt",
    characters=[
        scene_pb2.Character(name="Mirela", description="a smuggler", disposition="wary"),
        scene_pb2.Character(name="Grub", description="a goblin chief", disposition="hostile"),
    ],
    facts=["the door behind you is locked", "the water is rising"],
    attributes={"weather": "stormy", "health": "7/10"},
)


async def new_session(stub: pb_grpc.NarratorServiceStub, seed: int = 7) -> str:
    response = await stub.CreateSession(
        pb.CreateSessionRequest(
            setting=session_pb2.Setting(world="a drowned city ruled by smugglers", tone="grim"),
            player=session_pb2.PlayerCharacter(name="Ash", description="a disgraced knight"),
            seed=seed,
        )
    )
    return str(response.session.session_id)


@dataclass
class Collected:
    events: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    def of(self, kind: str) -> list[Any]:
        return [getattr(m, kind) for m in self.messages if m.WhichOneof("event") == kind]

    @property
    def text(self) -> str:
        return "".join(d.text for d in self.of("delta"))


async def collect(call: AsyncIterator[Message]) -> Collected:
    out = Collected()
    async for message in call:
        out.events.append(str(message.WhichOneof("event")))
        out.messages.append(message)
    return out


def assert_stream_order(got: Collected, decision: bool = False) -> None:
    """TurnStarted, deltas seq 1..n, [Decision], TurnCompleted whose text is the deltas'."""
    n = len(got.of("delta"))
    tail = ["decision", "completed"] if decision else ["completed"]
    assert got.events == ["started"] + ["delta"] * n + tail
    assert [d.seq for d in got.of("delta")] == list(range(1, n + 1))
    assert got.of("completed")[0].text == got.text


def details(error: grpc.aio.AioRpcError) -> list[Any]:
    """The google.rpc details of an error, unpacked."""
    from google.rpc import error_details_pb2

    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    out: list[Any] = []
    for detail in status.details:
        for kind in (
            error_details_pb2.BadRequest,
            error_details_pb2.QuotaFailure,
            error_details_pb2.RetryInfo,
        ):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                out.append(message)
    return out


Metadata = tuple[tuple[str, str], ...]


def bearer(token: str, player: str = "") -> Metadata:
    """Call metadata for an API key (and the player a backend acts for)."""
    player_entry = (("x-narrator-player", player),) if player else ()
    return (("authorization", f"Bearer {token}"), *player_entry)


async def add_key(app: App, name: str, tenant: str = "", **limits: int) -> str:
    """Creates a key in the running server's store, refreshes its keys; returns the token."""
    assert app.key_store is not None
    key, token = new_key(name, tenant, KeyLimits(**limits), time.time())
    await app.key_store.create_key(key)
    await app.refresh_keys()
    return token


def key_id(token: str) -> str:
    return token.split("_")[1]
