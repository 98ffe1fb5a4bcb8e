"""The store calls of one turn, on SQLite and on a private PostgreSQL: latency and turns/s.

A turn makes four store calls: get_session (the session's owner), recall (the narrator's
memory: recent turns, summary, lore revision), claim_turn (RUNNING) and save_turn (how it
ended, with what its prompt held in the same write). This runs that sequence
for `--turns` turns spread over `--sessions` sessions, `--concurrency` at a time, and prints
per-turn latency (p50, p99), turns per second and this process's CPU per turn (the adapter's
own cost: the driver, the pool, the codec; PostgreSQL's server processes are not counted).
Both stores are durable (SQLite synchronous=FULL, PostgreSQL fsync on) unless `--fast`.
Prints numbers; asserts nothing.

    .venv/bin/python bench/store.py [--turns 2000] [--concurrency 1 32] [--sessions 50]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from narrator_server.core.memory_models import Section, SectionKind, TurnRecord
from narrator_server.core.models import (
    PlayerCharacter,
    Scene,
    Session,
    Setting,
    Turn,
    TurnKind,
    TurnStatus,
    Usage,
)
from narrator_server.store.postgres import PostgresStore
from narrator_server.store.sqlite import SqliteStore
from narrator_server.testing import postgres

if TYPE_CHECKING:
    from narrator_server.core.memory_storage import CampaignStore as SessionStore

TEXT = "The lantern swings and the shadows lurch across the flooded crypt. " * 8
SECTIONS = tuple(
    Section(SectionKind.HISTORY, f"turn t{i}", f"Player action: I listen\n{TEXT}", 150)
    for i in range(12)
)


async def one_turn(store: SessionStore, session_id: str, n: int) -> float:
    start = time.perf_counter()
    await store.get_session(session_id, 0)
    await store.recall(session_id, 54, 0)
    claim = Turn(
        turn_id=f"t{n}", session_id=session_id, kind=TurnKind.NARRATION, input="I listen",
        scene=Scene("the crypt"), text="", status=TurnStatus.RUNNING, provider="offline",
        model="narrator-offline-1", usage=Usage(), created_at=time.time(),
    )  # fmt: skip
    await store.claim_turn(claim)
    ended = dataclasses.replace(
        claim, text=TEXT, status=TurnStatus.COMPLETED, usage=Usage(900, 120),
        delta_lengths=tuple(len(w) + 1 for w in TEXT.split()),
    )  # fmt: skip
    await store.save_turn(ended, TurnRecord(SECTIONS, 200))
    return time.perf_counter() - start


async def run(store: SessionStore, turns: int, concurrency: int, sessions: int) -> str:
    ids = [f"bench-{concurrency}-{i}" for i in range(sessions)]
    for session_id in ids:
        await store.create_session(
            Session(session_id, Setting("bench"), PlayerCharacter("B"), 1, time.time())
        )
    work = iter(range(turns))
    latencies: list[float] = []

    async def worker() -> None:
        for n in work:
            latencies.append(await one_turn(store, ids[n % sessions], n))

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    q = statistics.quantiles(latencies, n=100)
    return (
        f"concurrency {concurrency:3}: {turns / wall:7.0f} turns/s, per turn p50 "
        f"{q[49] * 1e3:6.2f} ms p99 {q[98] * 1e3:6.2f} ms, client CPU {cpu / turns * 1e6:5.0f} µs"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--fast", action="store_true", help="no fsync in either store")
    args = parser.parse_args()
    server = postgres.start(fast=args.fast)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("sqlite", "postgres"):
                print(name)
                for concurrency in args.concurrency:
                    if name == "sqlite":
                        store: SessionStore = await SqliteStore.open(
                            Path(tmp) / f"{concurrency}.sqlite3"
                        )
                        if args.fast:
                            await store._call(store.db.execute, "PRAGMA synchronous=OFF")
                    else:
                        url = server.create_database(f"bench_{concurrency}")
                        store = await PostgresStore.open(url, pool_size=16)
                    try:
                        print(" ", await run(store, args.turns, concurrency, args.sessions))
                    finally:
                        await store.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
