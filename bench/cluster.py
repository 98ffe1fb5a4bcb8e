"""Replicas on this machine: throughput with 1 and 2 replicas, the cost of the Redis turn log,
and takeover time after kill -9. Prints numbers; asserts nothing.

Starts private PostgreSQL and Redis, the fake OpenAI upstream (a process of its own) and the
replicas as processes (`narrator_server.testing.cluster`), and streams turns from this process.

1. Streams and tokens/s through nginx with 1, then 2 replicas (`--concurrency` streams for
   `--seconds`, from the fake upstream at full speed).
2. The Redis path versus the in-process turn log, on one replica with the same store: server
   CPU per streamed token (from /proc) and time to the first delta, one turn at a time, for
   turns with and without a client turn id.
3. Takeover: `--kills` times, a resumable turn (offline narrator, a word every 50 ms) is
   started on one replica, kill -9'd after 3 deltas and resumed on another; the time from the
   kill to the resumed stream's next delta.

    .venv/bin/python bench/cluster.py [--seconds 10] [--concurrency 32] [--turns 100]
                                      [--kills 20] [--words 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import session_pb2
from narrator_server.testing import postgres, redis_server
from narrator_server.testing.cluster import Cluster

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def new_session(stub: pb_grpc.NarratorServiceStub) -> str:
    response = await stub.CreateSession(
        pb.CreateSessionRequest(
            setting=session_pb2.Setting(world="a bench"),
            player=session_pb2.PlayerCharacter(name="B"),
        )
    )
    return str(response.session.session_id)


def request(session_id: str, turn_id: str = "", after: int = 0) -> pb.NarrateRequest:
    return pb.NarrateRequest(
        session_id=session_id, action="I walk on", turn_id=turn_id, resume_after_seq=after
    )


failures: dict[str, int] = {}  # calls that failed, by status code


async def throughput(address: str, seconds: float, concurrency: int) -> tuple[float, float]:
    """Streams completed per second and tokens (deltas' words) per second."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.NarratorServiceStub(channel)
        session_id = await new_session(stub)
        end = time.monotonic() + seconds
        streams = tokens = 0

        async def worker() -> None:
            nonlocal streams, tokens
            while time.monotonic() < end:
                try:
                    async for message in stub.Narrate(request(session_id)):
                        if message.WhichOneof("event") == "delta":
                            tokens += len(message.delta.text.split())
                    streams += 1
                except grpc.aio.AioRpcError as error:
                    failures[error.code().name] = failures.get(error.code().name, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.monotonic() - started
    return streams / wall, tokens / wall


async def one_at_a_time(address: str, pid: int, turns: int, resumable: bool) -> tuple[float, float]:
    """Server CPU per token (µs) and median time to the first delta (ms)."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.NarratorServiceStub(channel)
        session_id = await new_session(stub)
        ttfts, tokens = [], 0
        for i in range(turns + 5):
            if i == 5:  # after a warm-up
                before, tokens, ttfts = cpu_seconds(pid), 0, []
            started, first = time.monotonic(), None
            turn_id = uuid.uuid4().hex if resumable else ""
            async for message in stub.Narrate(request(session_id, turn_id)):
                if message.WhichOneof("event") == "delta":
                    first = first or time.monotonic()
                    tokens += len(message.delta.text.split())
            ttfts.append(((first or started) - started) * 1000)
        cpu = cpu_seconds(pid) - before
    return cpu / tokens * 1e6, statistics.median(ttfts)


async def takeover(cluster: Cluster, kills: int) -> list[float]:
    """Seconds from kill -9 to the next delta of the resumed stream, one per kill."""
    pauses: list[float] = []
    for _ in range(kills):
        while sum(r.alive for r in cluster.nodes) < 2:
            cluster.start_replica()
        a, b = [r for r in cluster.nodes if r.alive][-2:]
        async with (
            grpc.aio.insecure_channel(a.address) as ca,
            grpc.aio.insecure_channel(b.address) as cb,
        ):
            sa, sb = pb_grpc.NarratorServiceStub(ca), pb_grpc.NarratorServiceStub(cb)
            session_id, turn_id = await new_session(sa), uuid.uuid4().hex
            call, seq = sa.Narrate(request(session_id, turn_id)), 0
            async for message in call:
                if message.WhichOneof("event") == "delta":
                    seq = message.delta.seq
                    if seq == 3:
                        break
            cluster.kill(a)
            killed = time.monotonic()
            async for message in sb.Narrate(request(session_id, turn_id, after=seq)):
                if message.WhichOneof("event") == "delta":
                    pauses.append(time.monotonic() - killed)
                    break
    return pauses


def environment(upstream: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NARRATOR_", "OPENAI_"))}
    return env | {
        "OPENAI_BASE_URL": upstream,
        "OPENAI_API_KEY": "bench",
        "NARRATOR_FALLBACK": "false",
        "NARRATOR_TELEMETRY": "false",
        "NARRATOR_LOG_LEVEL": "WARNING",
        "NARRATOR_HISTORY_TOKENS": "0",  # every turn's prompt the same size
        "NARRATOR_MAX_STREAMS": "1024",
    }


def phases(args: argparse.Namespace, home: Path, pg: postgres.PostgresServer,
           redis_url: str, upstream: str) -> list[str]:  # fmt: skip
    env, lines = environment(upstream), []
    for n in (1, 2):
        db = pg.create_database(f"t{n}")
        cluster = Cluster(home / f"t{n}", n, env=env, database_url=db, redis_url=redis_url)
        cluster.start()
        try:
            assert cluster.lb is not None
            asyncio.run(throughput(cluster.lb.address, 2, args.concurrency))  # warm-up
            streams, tokens = asyncio.run(
                throughput(cluster.lb.address, args.seconds, args.concurrency)
            )
        finally:
            cluster.stop()
        lines.append(
            f"{n} replica(s) behind nginx: {streams:7.1f} streams/s {tokens:9,.0f} tokens/s "
            f"({args.concurrency} concurrent streams, {args.seconds:.0f} s)"
        )
    costs: dict[tuple[str, bool], tuple[float, float]] = {}
    for log in ("in-process", "redis"):
        extra = {"NARRATOR_REDIS_URL": ""} if log == "in-process" else {}
        db = pg.create_database(f"c{log[:2]}")
        cluster = Cluster(home / log, 0, env=env, database_url=db, redis_url=redis_url)
        cluster.start()
        try:
            replica = cluster.start_replica(**extra)
            for resumable in (False, True):
                costs[log, resumable] = asyncio.run(
                    one_at_a_time(replica.address, replica.pid, args.turns, resumable)
                )
        finally:
            cluster.stop()
    for resumable in (False, True):
        kind = "with turn_id   " if resumable else "without turn_id"
        (lc, lt), (rc, rt) = costs["in-process", resumable], costs["redis", resumable]
        lines.append(
            f"turns {kind}: CPU/token {lc:6.1f} us in-process, {rc:6.1f} us Redis "
            f"({rc - lc:+.1f} us); TTFT p50 {lt:5.2f} ms in-process, {rt:5.2f} ms Redis "
            f"({rt - lt:+.2f} ms)"
        )
    takeover_env = {k: v for k, v in env.items() if not k.startswith("OPENAI_")}
    takeover_env |= {"NARRATOR_OFFLINE_PACE_MS": "50", "NARRATOR_FALLBACK": "true",
                     "NARRATOR_LEASE_S": str(args.lease)}  # fmt: skip
    db = pg.create_database("k")
    cluster = Cluster(home / "takeover", 0, env=takeover_env, database_url=db, redis_url=redis_url)
    cluster.start()
    try:
        pauses = asyncio.run(takeover(cluster, args.kills))
    finally:
        cluster.stop()
    lines.append(
        f"takeover after kill -9 ({len(pauses)} kills, lease {args.lease} s): next delta "
        f"p50 {percentile(pauses, 0.5):.2f} s, p99 {percentile(pauses, 0.99):.2f} s, "
        f"max {max(pauses):.2f} s"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--lease", type=float, default=2.0, help="NARRATOR_LEASE_S for takeover")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="narrator-bench-"))
    home.chmod(0o755)  # PostgreSQL runs as its own user
    pg = postgres.start(home / "postgres", fast=True)
    redis = redis_server.start(home / "redis")
    fake = subprocess.Popen(
        [sys.executable, "-m", "narrator_server.testing.fake_openai", "--port", "0",
         "--words", str(args.words)], stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert fake.stdout is not None
        upstream = fake.stdout.readline().decode().split()[-1].removesuffix("/v1") + "/v1"
        lines = phases(args, home, pg, redis.url, upstream)
    finally:
        fake.terminate()
        fake.wait()
        redis.remove()
        pg.stop()
        shutil.rmtree(home, ignore_errors=True)
    print(f"bench/cluster.py on {os.cpu_count()} CPUs (clients, upstream, engines and replicas "
          "share them)")  # fmt: skip
    for line in lines:
        print(line)
    print(f"failed calls during the throughput runs: {failures or 'none'}")


if __name__ == "__main__":
    main()
