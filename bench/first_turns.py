"""The burst alone: `--streams` sessions' first turns started at once, on the model called
directly and on Narrator servers, round after round (interleaved).

`compare.py`'s 100 × 20 ms row starts every stream's first turn at once, and its TTFT p99
over all turns comes from that burst. Here each round opens fresh sessions (not timed), then
starts one turn on each at the same instant from two load generator processes and times each
turn's first text. Prints TTFT p50/p90/p99/max per arm (medians over the rounds), the p99
added to the direct arm's in the same round, and the server CPU of a burst per turn (the
turns' whole streams: `--tokens` tokens at `--pace`). Prints numbers; asserts nothing.

    .venv/bin/python bench/first_turns.py --narrator now=. [--narrator before=/tmp/before]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from arms import Measure, client_for, control_fake, pct, start_fake
from interleaved import add_load_options, add_narrator_option, narrator_specs, narrators

if TYPE_CHECKING:
    from arms import Process
    from compare import ArmSpec

PARTS = 2  # load generator processes


def _part(kind: str, address: str, streams: int, start_at: float) -> list[float]:
    """One load generator's share: opens `streams` sessions, then at `start_at` (monotonic,
    the same clock in every process) one turn on each; their TTFTs in seconds."""

    async def play() -> list[float]:
        arm = client_for(kind, address)
        try:
            workers = [await arm.worker() for _ in range(streams)]
            measures = [Measure() for _ in workers]
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
            turns = (arm.turn(w, m) for w, m in zip(workers, measures, strict=True))
            await asyncio.gather(*turns, return_exceptions=True)
        finally:
            await arm.close()
        return [m.ttft[0] for m in measures if m.ttft]

    return asyncio.run(play())


async def burst(
    kind: str, address: str, streams: int, pool: ProcessPoolExecutor, server: Process | None
) -> tuple[list[float], float]:
    """TTFTs (s) of one burst, and the server's CPU (s) from its start until every turn ended."""
    loop = asyncio.get_running_loop()
    start_at = time.monotonic() + 2.0 + streams * 0.01  # every process opens its sessions first
    shares = [streams // PARTS + (i < streams % PARTS) for i in range(PARTS)]
    parts = [loop.run_in_executor(pool, _part, kind, address, n, start_at) for n in shares]
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    cpu = server.cpu() if server else 0.0
    ttfts = [t for part in await asyncio.gather(*parts) for t in part]
    return ttfts, (server.cpu() - cpu if server else 0.0)


async def run(specs: list[ArmSpec], args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    fake, upstream = await start_fake()
    rows: dict[str, list[dict[str, float]]] = {"direct": []}
    try:
        await asyncio.to_thread(control_fake, upstream, tokens=[args.tokens] * 2, pace=args.pace)
        async with narrators(specs, upstream) as servers:
            arms: list[tuple[str, str, str, Process | None]] = [
                ("direct", "openai", upstream, None),
                *((name, "narrator", address, server) for name, server, address in servers),
            ]
            with ProcessPoolExecutor(PARTS) as pool:
                for round_ in range(args.rounds):
                    direct_p99 = 0.0
                    for name, kind, address, server in arms:
                        ttfts, cpu = await burst(kind, address, args.streams, pool, server)
                        row = _row(ttfts, cpu, args.streams)
                        if name == "direct":
                            direct_p99 = row["p99"]
                        row["added_p99"] = row["p99"] - direct_p99
                        rows.setdefault(name, []).append(row)
                        print(f"round {round_ + 1}: {name} {_line(row)}", flush=True)
    finally:
        await fake.stop()
    return rows


def _row(ttfts: list[float], cpu: float, streams: int) -> dict[str, float]:
    ms = [t * 1e3 for t in ttfts]
    return {
        "answered": len(ms),
        "p50": pct(ms, 0.5),
        "p90": pct(ms, 0.9),
        "p99": pct(ms, 0.99),
        "max": max(ms, default=float("nan")),
        "cpu_ms_per_turn": cpu * 1e3 / streams,
    }


def _line(row: dict[str, float]) -> str:
    return (
        f"{int(row['answered'])} first tokens, TTFT p50 {row['p50']:.0f} / p90 {row['p90']:.0f}"
        f" / p99 {row['p99']:.0f} / max {row['max']:.0f} ms"
    )


def report(rows: dict[str, list[dict[str, Any]]]) -> None:
    print("\n| arm | TTFT p50 | p90 | p99 | max | p99 added to direct's | server CPU a turn |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        added = "–" if name == "direct" else f"{med['added_p99']:+.0f} ms"
        cpu = "–" if name == "direct" else f"{med['cpu_ms_per_turn']:.1f} ms"
        print(
            f"| {name} | {med['p50']:.0f} ms | {med['p90']:.0f} ms | {med['p99']:.0f} ms"
            f" | {med['max']:.0f} ms | {added} | {cpu} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_narrator_option(parser)
    add_load_options(parser, rounds=5, tokens=100, about="tokens a turn")
    args = parser.parse_args()
    report(asyncio.run(run(narrator_specs(args), args)))


if __name__ == "__main__":
    main()
