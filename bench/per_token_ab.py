"""Server CPU per streamed token of several Narrator servers at 100 paced streams, interleaved:
one load on each arm in turn, round after round (this machine's speed moves by tens of percent
within minutes; arms measured at different times are not comparable).

Each load: `--streams` streams at `--pace` seconds a token, every turn longer than the load
(`--tokens` one-token chunks), so that no turn starts inside the measured window: the window
(from 3 s after the streams start to 1 s before they stop) holds the cost of a token alone,
with none of a turn's. `compare.py`'s 100 × 20 ms row adds a turn's cost every 100-300 tokens.
Two arms of the same tree show the noise. Prints numbers; asserts nothing.

    .venv/bin/python bench/per_token_ab.py --narrator before=/tmp/before --narrator after=. \\
        [--narrator off=.,NARRATOR_MODERATION=off] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

from arms import play_part, start_fake
from compare import fake_set
from interleaved import (
    add_load_options,
    add_narrator_option,
    narrator_specs,
    narrators,
    print_medians,
)

if TYPE_CHECKING:
    from arms import Process
    from compare import ArmSpec

SKIP, TAIL = 3.0, 1.0  # seconds left out of the window after the start and before the end


async def one_load(
    server: Process, address: str, args: argparse.Namespace, pool: ProcessPoolExecutor
) -> float:
    """CPU per token (µs) of one load on one server."""
    loop = asyncio.get_running_loop()
    parts = 2
    start_at = time.monotonic() + 1.5
    shares = [args.streams // parts + (i < args.streams % parts) for i in range(parts)]
    futures = [
        loop.run_in_executor(pool, play_part, "narrator", address, n, start_at, args.seconds)
        for n in shares
    ]
    await asyncio.sleep(start_at + SKIP - time.monotonic())
    cpu, began = server.cpu(), time.monotonic()
    await asyncio.sleep(args.seconds - SKIP - TAIL)
    cpu, window = server.cpu() - cpu, time.monotonic() - began
    measures = await asyncio.gather(*futures)
    rate = sum(m.tokens for m in measures) / args.seconds
    return cpu / (rate * window) * 1e6


async def run(specs: list[ArmSpec], args: argparse.Namespace) -> dict[str, list[float]]:
    fake, upstream = await start_fake()
    per_token: dict[str, list[float]] = {spec.name: [] for spec in specs}
    try:
        await fake_set(upstream, tokens=[args.tokens, args.tokens], pace=args.pace)
        async with narrators(specs, upstream) as servers:
            with ProcessPoolExecutor(2) as pool:
                for round_ in range(args.rounds):
                    for name, server, address in servers:
                        value = await one_load(server, address, args, pool)
                        per_token[name].append(value)
                        print(f"round {round_ + 1}: {name} {value:.1f} µs/token", flush=True)
    finally:
        await fake.stop()
    return per_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_narrator_option(parser)
    add_load_options(parser, rounds=4, tokens=600, about="tokens a turn (> the load)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load")
    args = parser.parse_args()
    if args.seconds <= SKIP + TAIL or args.tokens * args.pace <= args.seconds:
        parser.error("the load must be longer than 4 s and shorter than a turn")
    results = asyncio.run(run(narrator_specs(args), args))
    print_medians(results, "server CPU per token (loads)", "µs")


if __name__ == "__main__":
    main()
