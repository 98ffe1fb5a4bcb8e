"""Per-turn server CPU of several Narrator servers, interleaved (`turn_cpu.py`): one batch of
turns on each in turn, so that what else the machine does weighs on every arm alike.

Each arm's session first plays 50 turns of `--history-tokens`-token answers (20; a real model's
run 100-300); then each batch is `--batch` turns of 1-token answers (the whole turn), then
`--batch` turns of 3-token answers paced 20 ms a token (until the first token reached the
client, with nothing after it counted in: see `turn_cpu.py`). Prints the median and mean of the
batches' CPU per turn: the whole turn, then until the first token. Two arms of the same tree
show the noise.

    .venv/bin/python bench/per_turn_ab.py --turns 600 \\
        --narrator before=/tmp/before --narrator after=. [--narrator off=.,NARRATOR_TELEMETRY=false]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from arms import NarratorArm, start_fake
from interleaved import add_narrator_option, narrator_specs, narrators, print_medians
from turn_cpu import TurnCpu, turn_cpu

if TYPE_CHECKING:
    from compare import ArmSpec


async def run(
    specs: list[ArmSpec], turns: int, batch: int, history_tokens: int
) -> dict[str, TurnCpu]:
    fake, upstream = await start_fake()
    try:
        async with narrators(specs, upstream) as servers:
            arms = {name: (NarratorArm(address), server) for name, server, address in servers}
            try:
                return await turn_cpu(
                    arms, upstream, turns=turns, batch=batch, history_tokens=history_tokens
                )
            finally:
                for arm, _ in arms.values():
                    await arm.close()
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_narrator_option(parser)
    parser.add_argument("--turns", type=int, default=600, help="turns per arm")
    parser.add_argument("--batch", type=int, default=20, help="turns per batch")
    parser.add_argument("--history-tokens", type=int, default=20,
                        help="tokens of each of the 50 history turns' answers")  # fmt: skip
    args = parser.parse_args()
    results = asyncio.run(run(narrator_specs(args), args.turns, args.batch, args.history_tokens))
    for name, cpu in results.items():
        if cpu.failed:
            print(f"{name}: a turn failed ({cpu.failed}); its batches until then are shown")
    print_medians({n: c.whole for n, c in results.items()}, "CPU per turn (batches)", "ms", 1e3)
    print()
    print_medians({n: c.first for n, c in results.items()}, "CPU to the first token", "ms", 1e3)


if __name__ == "__main__":
    main()
