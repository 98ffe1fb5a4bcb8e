"""Narrator against calling the model directly (and a LiteLLM proxy), side by side, one run.

Arms: `direct` (the openai SDK streaming from the fake upstream), each `--narrator` (a server
from a source tree, in its own process), and `litellm` (a proxy from `--litellm VENV`). The
fake upstream runs in its own process and streams one-token chunks, 100-300 tokens a turn in
sentences of 8-20 words (as a model narrates: moderation closes a window at each sentence end);
every client worker keeps one session, so prompts carry a growing history. This process is
the load generator. Loads: 1 stream unpaced, 100 streams at 20 ms/token, 100 streams unpaced;
then per-turn fixed CPU (a 50-turn history: until the first token reached the client, and the
whole turn; the arms in turn, batch by batch: `turn_cpu.py`) and how long a client cancel
takes to close the upstream request. Medians of `--rounds`, except the TTFT and gap
percentiles: those are over every round's turns together. `spread` is (max-min)/median.
Every stream of a load starts at once, so the TTFT columns include a burst of their first
turns; "later turns" leaves each stream's first turn out (the steady state).

    .venv/bin/python bench/compare.py [--rounds 3] [--litellm /tmp/litellm-venv]
        [--narrator after=. --narrator before=/tmp/before ...] [--loads 1]

Moderation's cost, one arm per mode (the fake serves /v1/moderations for `openai`):
    --narrator off=.,NARRATOR_MODERATION=off --narrator local=.,NARRATOR_MODERATION=local
    --narrator openai=.,NARRATOR_MODERATION=openai

A LiteLLM install for the third arm (its own venv: it pins its own openai):
    python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from arms import (
    HERE,
    Measure,
    NarratorArm,
    OpenAIArm,
    Process,
    client_for,
    control_fake,
    median,
    pct,
    play_part,
    start_fake,
    start_litellm,
    start_narrator,
)
from floor import grpc_floor, upstream_floor
from turn_cpu import TurnCpu, turn_cpu


@dataclass(frozen=True)
class Load:
    name: str
    streams: int
    seconds: float  # each stream plays turns, one after the other, for this long
    pace: float


LOADS = (
    Load("1 stream, unpaced", 1, 6, 0.0),
    Load("100 streams, 20 ms/token", 100, 10, 0.02),
    Load("100 streams, unpaced", 100, 8, 0.0),
)
TOKENS = [100, 300]
WARM_UP = Load("warm-up", 4, 1.0, 0.0)


@dataclass(frozen=True)
class ArmSpec:
    name: str
    kind: str  # direct, narrator, litellm
    root: Path | None = None
    env: tuple[tuple[str, str], ...] = ()


def narrator_spec(text: str) -> ArmSpec:
    """NAME=ROOT[,VAR=VALUE...]: a server from the source tree ROOT (its .venv if it has one)."""
    name, _, rest = text.partition("=")
    root, *pairs = rest.split(",")
    env = tuple(tuple(p.split("=", 1)) for p in pairs)
    return ArmSpec(name, "narrator", Path(root or HERE).resolve(), env)  # type: ignore[arg-type]


async def fake_set(upstream: str, **reply: Any) -> Any:
    return await asyncio.to_thread(control_fake, upstream, **reply)


async def run_load(
    kind: str, address: str, server: Process | None, load: Load, upstream: str, pool: Any
) -> Measure:
    """Every stream plays turns for `load.seconds`, spread over the load generator
    processes; the turns under way at the end are cut (what they said until then counts)."""
    await fake_set(upstream, tokens=TOKENS, pace=load.pace)
    loop = asyncio.get_running_loop()
    parts = min(pool._max_workers, load.streams)
    start_at = time.monotonic() + 1.5  # time for every process to open its sessions
    shares = [load.streams // parts + (i < load.streams % parts) for i in range(parts)]
    futures = [
        loop.run_in_executor(pool, play_part, kind, address, n, start_at, load.seconds)
        for n in shares
    ]
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    cpu = server.cpu() if server else 0.0
    await asyncio.sleep(load.seconds)
    measure = Measure(wall=load.seconds)
    if server is not None:
        measure.cpu = server.cpu() - cpu
        measure.rss_mb = server.rss_mb()
    for part in await asyncio.gather(*futures):
        measure.tokens += part.tokens
        measure.turns += part.turns
        measure.errors += part.errors
        measure.ttft += part.ttft
        measure.later_ttft += part.later_ttft
        measure.gaps += part.gaps
    return measure


async def cancel_times(arm: Any, upstream: str, count: int) -> list[float]:
    """Milliseconds from a client's cancel to the upstream seeing its request closed."""
    await fake_set(upstream, tokens=[400, 400], pace=0.02)
    worker = await arm.worker()
    await fake_set(upstream)  # forget earlier disconnects
    times = []
    for _ in range(count):
        try:
            cancelled = await arm.cancel_one(worker)
        except Exception as error:
            print(f"  a cancel not measured: {error!r}", flush=True)
            continue
        for _ in range(200):
            await asyncio.sleep(0.01)
            seen = await fake_set(upstream)
            if seen:
                times.append((seen[-1] - cancelled) * 1000)
                break
    return times


@dataclass
class Running:
    kind: str  # of client: narrator, openai or litellm
    address: str
    server: Process | None

    @property
    def client(self) -> NarratorArm | OpenAIArm:
        return client_for(self.kind, self.address)


async def start_arm(spec: ArmSpec, upstream: str, args: argparse.Namespace, data: str) -> Running:
    if spec.kind == "narrator":
        assert spec.root is not None
        server, address = await start_narrator(spec.root, upstream, data, dict(spec.env))
        return Running("narrator", address, server)
    if spec.kind == "litellm":
        server, base_url = await start_litellm(args.litellm, upstream, data)
        return Running("litellm", base_url, server)
    return Running("openai", upstream, None)


async def run_round(
    specs: list[ArmSpec], upstream: str, args: argparse.Namespace, pool: Any
) -> Any:
    """Every arm's servers up at once, and each load run on every arm in turn, so that what
    else the machine does weighs on all arms alike."""
    with contextlib.ExitStack() as dirs:
        arms: dict[str, Running] = {}
        try:
            for spec in specs:
                data = dirs.enter_context(tempfile.TemporaryDirectory(prefix="narrator-bench-"))
                arms[spec.name] = await start_arm(spec, upstream, args, data)
            loads = () if args.per_turn_only else LOADS[: args.loads]
            for a in arms.values():
                if loads:
                    await run_load(a.kind, a.address, a.server, WARM_UP, upstream, pool)
            results: dict[str, Any] = {name: ([], None, []) for name in arms}
            for load in loads:
                for name, a in arms.items():
                    measure = await run_load(a.kind, a.address, a.server, load, upstream, pool)
                    results[name][0].append(measure)
            clients = {name: a.client for name, a in arms.items()}
            try:
                served = {n: (clients[n], a.server) for n, a in arms.items() if a.server}
                fixed = await turn_cpu(served, upstream, turns=args.fixed_turns)
                for name in arms:
                    cancels = []
                    if loads:
                        cancels = await cancel_times(clients[name], upstream, args.cancels)
                    results[name] = (results[name][0], _per_turn(name, fixed), cancels)
            finally:
                for client in clients.values():
                    await client.close()
            return results
        finally:
            for a in arms.values():
                if a.server is not None:
                    await a.server.stop()


def _per_turn(name: str, fixed: dict[str, TurnCpu]) -> tuple[float, float] | None:
    """An arm's CPU a turn in this round (the mean of its batches): to the first token, whole.
    None for an arm without a server of its own; NaN for one that failed a turn."""
    if name not in fixed:
        return None
    cpu = fixed[name]
    if cpu.failed:
        print(f"  per-turn CPU of {name} not measured: {cpu.failed}", flush=True)
        return float("nan"), float("nan")
    return sum(cpu.first) / len(cpu.first), sum(cpu.whole) / len(cpu.whole)


def raw(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (list(map(asdict, v[0])), v[1], v[2]) for k, v in r.items()} for r in rounds]


def spread(values: list[float]) -> str:
    clean = [v for v in values if v == v]
    if len(clean) < 2:
        return "–"
    return f"{(max(clean) - min(clean)) / median(clean) * 100:.0f}%"


def _percentiles(arm: list[Measure], direct: list[Measure]) -> dict[str, float]:
    """TTFT and gap percentiles over every round's turns together, and what the arm adds to
    direct's: the p99 of all the turns measured. A median of each round's p99 read one round
    (at 100 × 20 ms, its burst's third slowest first turn of ~250 turns) and hid a slow one."""

    def pooled(measures: list[Measure], name: str) -> list[float]:
        return [x for m in measures for x in getattr(m, name)]

    ttft, dttft = pooled(arm, "ttft"), pooled(direct, "ttft")
    later, dlater = pooled(arm, "later_ttft"), pooled(direct, "later_ttft")
    return {
        "p50": pct(ttft, 0.5) * 1e3, "p99": pct(ttft, 0.99) * 1e3,
        "a50": (pct(ttft, 0.5) - pct(dttft, 0.5)) * 1e3,
        "a99": (pct(ttft, 0.99) - pct(dttft, 0.99)) * 1e3,
        "l99": (pct(later, 0.99) - pct(dlater, 0.99)) * 1e3,
        "gap": pct(pooled(arm, "gaps"), 0.99) * 1e3,
    }  # fmt: skip


def report(
    specs: list[ArmSpec],
    rounds: list[dict[str, Any]],
    loads: int,
    floors: list[tuple[float, float]],
) -> None:
    head = ("| load | arm | tokens/s | × direct | TTFT p50 | TTFT p99 | +TTFT p50 | +TTFT p99 "
            "| +TTFT p99, later turns | gap p99 | CPU/token | RSS "
            "| spread (tok/s, CPU) |")  # fmt: skip
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for i, load in enumerate(LOADS[:loads]):
        for spec in specs:
            rows = []
            for r in rounds:
                nan = float("nan")
                m: Measure = r[spec.name][0][i]
                d: Measure = r["direct"][0][i]
                tps, dtps = m.tokens / m.wall, d.tokens / d.wall
                rows.append({
                    "tps": tps, "ratio": tps / dtps,
                    "cpu": m.cpu / m.tokens * 1e6 if m.cpu is not None and m.tokens else nan,
                    "rss": m.rss_mb if m.rss_mb is not None else nan,
                    "errors": m.errors,
                })  # fmt: skip
            v = {k: median([row[k] for row in rows]) for k in rows[0]}
            v |= _percentiles([r[spec.name][0][i] for r in rounds],
                              [r["direct"][0][i] for r in rounds])  # fmt: skip
            server = spec.kind != "direct"
            errors = sum(row["errors"] for row in rows)
            cells = [
                load.name if spec is specs[0] else "", spec.name, f"{v['tps']:,.0f}",
                f"{v['ratio']:.2f}", f"{v['p50']:.1f} ms", f"{v['p99']:.1f} ms",
                f"{v['a50']:+.1f} ms" if server else "–", f"{v['a99']:+.1f} ms" if server else "–",
                f"{v['l99']:+.1f} ms" if server and v["l99"] == v["l99"] else "–",  # NaN: none
                f"{v['gap']:.1f} ms", f"{v['cpu']:.0f} µs" if server else "–",
                f"{v['rss']:.0f} MB" if server else "–",
                f"{spread([r['tps'] for r in rows])}, {spread([r['cpu'] for r in rows])}"
                + (f" ({errors} errors)" if errors else ""),
            ]  # fmt: skip
            print("| " + " | ".join(cells) + " |")
    print()
    print("| arm | per-turn CPU before the first token (50-turn history) | whole turn "
          "| cancel → upstream closed p50 | max |")  # fmt: skip
    print("|---|---|---|---|---|")
    for spec in specs:
        fixed = [r[spec.name][1] for r in rounds if r[spec.name][1] is not None]
        cancels = [t for r in rounds for t in r[spec.name][2]]
        cells = [
            f"{median(part) / 1000:.2f} ms ({spread(part)})" if fixed else "–"
            for part in ([f[0] for f in fixed], [f[1] for f in fixed])
        ]
        cancel_cell = f"{pct(cancels, 0.5):.1f} ms" if cancels else "–"
        top = f"{max(cancels):.1f} ms" if cancels else "–"
        print(f"| {spec.name} | {cells[0]} | {cells[1]} | {cancel_cell} | {top} |")
    if floors:
        rpc, post = (median([f[i] for f in floors]) * 1e3 for i in (0, 1))
        print(f"| floor (`floor.py`, this run): a bare grpc.aio stream of 3 messages {rpc:.2f} ms"
              f" + the upstream request {post:.2f} ms | ≤ {rpc + post:.2f} ms"
              f" | {rpc + post:.2f} ms | | |")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--narrator", action="append", type=narrator_spec, default=[],
                        help="NAME=ROOT[,VAR=VALUE...] (default: narrator=this tree)")  # fmt: skip
    parser.add_argument("--litellm", type=Path, help="a venv with litellm[proxy] installed")
    parser.add_argument("--fixed-turns", type=int, default=200)
    parser.add_argument("--cancels", type=int, default=20)
    parser.add_argument("--per-turn-only", action="store_true",
                        help="only the per-turn CPU (no loads, no cancels)")  # fmt: skip
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--json", type=Path, help="also write every round's raw numbers here")
    parser.add_argument("--loads", type=int, default=len(LOADS),
                        help="run only the first N loads (1: one stream, unpaced)")  # fmt: skip
    args = parser.parse_args()
    specs = [ArmSpec("direct", "direct"), *(args.narrator or [narrator_spec("narrator=")])]
    if args.litellm:
        specs.append(ArmSpec("litellm", "litellm"))
    fake, upstream = await start_fake()
    rounds: list[dict[str, Any]] = []
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that runs gRPC
    try:
        # What no code of a server's can remove from a turn, on this machine in this run. First,
        # while this process is small: `upstream_floor` counts its CPU, the collector's too.
        floors = [(await grpc_floor(1000), await upstream_floor(500)) for _ in range(args.rounds)]
        with ProcessPoolExecutor(args.clients, mp_context=spawn) as pool:
            for n in range(args.rounds):
                rounds.append(await run_round(specs, upstream, args, pool))
                print(f"round {n + 1} of {args.rounds} done", flush=True)
                if args.json:  # as it goes: a run cut short keeps its rounds
                    args.json.write_text(json.dumps(raw(rounds)))
    finally:
        await fake.stop()
    loads = ", ".join(f"{x.name} ({x.seconds:g} s)" for x in LOADS[: args.loads])
    print(f"\n{args.rounds} rounds, medians (percentiles: all rounds' turns together); "
          f"{TOKENS[0]}-{TOKENS[1]} one-token chunks a turn; {loads}\n")  # fmt: skip
    report(specs, rounds, 0 if args.per_turn_only else args.loads, floors)


if __name__ == "__main__":
    asyncio.run(main())
