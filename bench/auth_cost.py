"""Server CPU per call with authentication and quotas on versus off, under the same load.

Starts the server as a separate process (offline narrator, no pacing) twice on the same kind
of data dir: once with NARRATOR_AUTH=off, once with NARRATOR_AUTH=required, an API key with
every limit set (high enough never to refuse) and a player named on every call. Measures the
server's CPU time (from /proc) for unary calls (GetSession) and for streamed turns (Narrate).
First, the same work in this process without gRPC: authenticating a key, admitting a call
against two request limits, reserving and settling a turn's tokens against two token limits.
Prints numbers; asserts nothing.

    .venv/bin/python bench/auth_cost.py [--calls 2000] [--turns 200] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import grpc
from stream_cpu import cpu_seconds, spawn, stop

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator_server.api.auth import bearer_token
from narrator_server.api.caller import player_of
from narrator_server.core.keyring import KeyRing
from narrator_server.core.keys import new_key
from narrator_server.core.models import KeyLimits, Usage
from narrator_server.core.quotas import Quotas
from narrator_server.quotas.local import LocalQuotaCounter
from narrator_server.store.memory_keys import MemoryKeyStore
from narrator_server.store.sqlite import DB_FILE, SqliteStore

HIGH = 10**9


async def in_process(count: int = 50_000) -> str:
    """µs per authentication, per admission and per turn reservation + settlement."""
    store = MemoryKeyStore()
    key, token = new_key("bench", "", KeyLimits(HIGH, HIGH, HIGH, HIGH), time.time())
    await store.create_key(key)
    ring = KeyRing(store)
    await ring.refresh()
    quotas = Quotas(LocalQuotaCounter(), ring.usage)
    metadata = (("authorization", f"Bearer {token}"), ("x-narrator-player", "p1"))
    started = time.perf_counter()
    for _ in range(count):
        caller = ring.authenticate(bearer_token(metadata), player_of(metadata))
    authenticated = time.perf_counter()
    assert caller is not None
    for _ in range(count):
        await quotas.admit(caller, "session")
    admitted = time.perf_counter()
    for _ in range(count):
        held = await quotas.reserve(caller, 600, 300)
        await held.settle(Usage(300, 100))
    settled = time.perf_counter()
    per = [(b - a) / count * 1e6 for a, b in
           ((started, authenticated), (authenticated, admitted), (admitted, settled))]  # fmt: skip
    return (
        f"in process: authenticate {per[0]:.1f} us, admit a call {per[1]:.1f} us, "
        f"reserve + settle a turn {per[2]:.1f} us"
    )


async def make_key(data_dir: Path) -> str:
    store = await SqliteStore.open(data_dir / DB_FILE)
    try:
        key, token = new_key("bench", "", KeyLimits(HIGH, HIGH, HIGH, HIGH), time.time())
        await store.keys.create_key(key)
    finally:
        await store.close()
    return token


async def load(
    address: str, metadata: tuple[tuple[str, str], ...], args: argparse.Namespace, pid: int
) -> tuple[float, float]:
    """(µs of server CPU per unary call, µs per streamed delta)."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.NarratorServiceStub(channel)
        created = await stub.CreateSession(
            pb.CreateSessionRequest(setting={"world": "bench"}, player={"name": "B"}),
            metadata=metadata,
        )
        sid = created.session.session_id
        get = pb.GetSessionRequest(session_id=sid, recent_turn_limit=1)
        narrate = pb.NarrateRequest(session_id=sid, action="I walk")

        async def unary(count: int) -> None:
            for _ in range(count):
                await stub.GetSession(get, metadata=metadata)

        deltas = 0

        async def turns(count: int) -> None:
            nonlocal deltas
            for _ in range(count):
                async for message in stub.Narrate(narrate, metadata=metadata):
                    deltas += message.WhichOneof("event") == "delta"

        await unary(20)  # warm up
        share = args.calls // args.concurrency
        before = cpu_seconds(pid)
        await asyncio.gather(*(unary(share) for _ in range(args.concurrency)))
        per_call = (cpu_seconds(pid) - before) / (share * args.concurrency) * 1e6
        share = args.turns // args.concurrency
        before = cpu_seconds(pid)
        await asyncio.gather(*(turns(share) for _ in range(args.concurrency)))
        per_delta = (cpu_seconds(pid) - before) / max(1, deltas) * 1e6
    return per_call, per_delta


async def run(authenticated: bool, args: argparse.Namespace) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NARRATOR_", "OPENAI_"))}
        env |= {
            "NARRATOR_PORT": "0",
            "NARRATOR_DATA_DIR": data,
            "NARRATOR_OFFLINE_PACE_MS": "0",
            "NARRATOR_METRICS_PORT": "-1",
            "NARRATOR_LOG_LEVEL": "WARNING",
            "NARRATOR_HISTORY_TOKENS": "0",
            "NARRATOR_AUTH": "required" if authenticated else "off",
        }
        metadata: tuple[tuple[str, str], ...] = ()
        if authenticated:
            token = await make_key(Path(data))
            metadata = (("authorization", f"Bearer {token}"), ("x-narrator-player", "p1"))
        server, address = await spawn("-m", "narrator_server", env=env)
        try:
            return await load(address, metadata, args, server.pid)
        finally:
            await stop(server)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(await in_process())
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for authenticated in (False, True):
            results[authenticated].append(await run(authenticated, args))
    print(
        f"{args.calls} GetSession calls and {args.turns} offline Narrate turns, "
        f"{args.concurrency} concurrent, {args.rounds} rounds (median)"
    )
    medians = {}
    for authenticated, runs in results.items():
        call = statistics.median(r[0] for r in runs)
        delta = statistics.median(r[1] for r in runs)
        medians[authenticated] = (call, delta)
        label = "key + quotas" if authenticated else "auth off    "
        print(f"{label}: {call:7.1f} us server CPU per unary call; {delta:6.1f} us per delta")
    (call_off, delta_off), (call_on, delta_on) = medians[False], medians[True]
    print(
        f"authentication + quotas: {call_on - call_off:+.1f} us per call "
        f"({(call_on / call_off - 1) * 100:+.1f}%), {delta_on - delta_off:+.2f} us per delta"
    )


if __name__ == "__main__":
    asyncio.run(main())
