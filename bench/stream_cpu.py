"""Server CPU per streamed token, telemetry on versus off, under the same load.

Starts the fake OpenAI upstream and the server as separate processes, streams turns through
the server from this process, and reads the server's CPU time from /proc. Prints numbers;
asserts nothing.

    .venv/bin/python bench/stream_cpu.py [--turns 200] [--concurrency 20] [--words 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


async def spawn(*args: str, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = (await process.stdout.readline()).decode().strip()
    return process, line.split()[-1]


async def stop(process: asyncio.subprocess.Process) -> None:
    process.terminate()
    await process.wait()


async def load(address: str, turns: int, concurrency: int) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.NarratorServiceStub(channel)
        session = await stub.CreateSession(
            pb.CreateSessionRequest(setting={"world": "bench"}, player={"name": "B"})
        )
        session_id = session.session.session_id
        queue = iter(range(turns))
        deltas = 0

        async def worker() -> None:
            nonlocal deltas
            for _ in queue:
                request = pb.NarrateRequest(session_id=session_id, action="I walk")
                async for message in stub.Narrate(request):
                    deltas += message.WhichOneof("event") == "delta"

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return deltas


async def run(telemetry: bool, upstream: str, args: argparse.Namespace) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NARRATOR_", "OTEL_"))}
        env |= {
            "NARRATOR_PORT": "0",
            "NARRATOR_DATA_DIR": data,
            "OPENAI_BASE_URL": upstream,
            "OPENAI_API_KEY": "bench",
            "NARRATOR_FALLBACK": "false",
            "NARRATOR_TELEMETRY": "true" if telemetry else "false",
            "NARRATOR_METRICS_PORT": "0",
            "NARRATOR_LOG_LEVEL": "WARNING",
            # History would grow the prompt each turn; keep every turn the same size.
            "NARRATOR_HISTORY_TOKENS": "0",
        }
        server, address = await spawn("-m", "narrator_server", env=env)
        try:
            await load(address, 5, 5)  # warm up connections and caches
            before, started = cpu_seconds(server.pid), time.monotonic()
            tokens = await load(address, args.turns, args.concurrency)
            cpu, wall = cpu_seconds(server.pid) - before, time.monotonic() - started
        finally:
            await stop(server)
    return cpu / tokens * 1e6, tokens / wall


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fake, upstream = await spawn(
        "-m",
        "narrator_server.testing.fake_openai",
        "--port",
        "0",
        "--words",
        str(args.words),
        env=dict(os.environ),
    )
    upstream = upstream.removesuffix("/v1") + "/v1"
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    try:
        for _ in range(args.rounds):
            for telemetry in (False, True):
                results[telemetry].append(await run(telemetry, upstream, args))
    finally:
        await stop(fake)
    print(
        f"{args.turns} turns x ~{args.words} tokens, {args.concurrency} concurrent streams, "
        f"{args.rounds} rounds (median)"
    )
    medians = {}
    for telemetry, runs in results.items():
        us = statistics.median(r[0] for r in runs)
        rate = statistics.median(r[1] for r in runs)
        medians[telemetry] = us
        label = "telemetry on " if telemetry else "telemetry off"
        spread = ", ".join(f"{r[0]:.1f}" for r in runs)
        print(f"{label}: {us:6.1f} us server CPU per token ({spread}); {rate:,.0f} tokens/s")
    print(f"telemetry overhead: {(medians[True] / medians[False] - 1) * 100:+.1f}% CPU per token")


if __name__ == "__main__":
    asyncio.run(main())
