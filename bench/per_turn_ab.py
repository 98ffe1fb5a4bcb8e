"""Per-turn server CPU of several Narrator servers, interleaved: one batch of turns on each in
turn, so that what else the machine does weighs on every arm alike (the full runs of
`compare.py` measure each arm's per-turn CPU at a different time, and this machine's speed
moves by tens of percent within minutes).

Each arm's session first plays 50 turns of `--history-tokens`-token answers (20; a real model's
run 100-300); then every batch is `--batch`
turns of 1-token answers, 20 ms apart (what `compare.py` calls the whole turn). Prints the
median and mean of the batches' CPU per turn. Two arms of the same tree show the noise.

    .venv/bin/python bench/per_turn_ab.py --turns 600 \\
        --narrator before=/tmp/before --narrator after=. [--narrator off=.,NARRATOR_TELEMETRY=false]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from arms import Measure, NarratorArm, start_fake
from compare import fake_set
from interleaved import add_narrator_option, narrators, print_medians

if TYPE_CHECKING:
    from compare import ArmSpec


async def run(
    specs: list[ArmSpec], turns: int, batch: int, history_tokens: int
) -> dict[str, list[float]]:
    fake, upstream = await start_fake()
    per_turn: dict[str, list[float]] = {spec.name: [] for spec in specs}
    try:
        async with narrators(specs, upstream) as servers:
            arms = [(name, server, NarratorArm(address)) for name, server, address in servers]
            try:
                await fake_set(upstream, tokens=[history_tokens, history_tokens], pace=0.0)
                sessions = []
                for _, _, arm in arms:
                    session, scratch = await arm.worker(), Measure()
                    for _ in range(50):
                        await arm.turn(session, scratch)
                    sessions.append((session, scratch))
                await fake_set(upstream, tokens=[1, 1], pace=0.0)
                for _ in range(max(1, turns // batch)):
                    for (name, server, arm), (session, scratch) in zip(arms, sessions, strict=True):
                        await asyncio.sleep(0.05)
                        start = server.cpu()
                        for _ in range(batch):
                            await arm.turn(session, scratch)
                            await asyncio.sleep(0.02)
                        per_turn[name].append((server.cpu() - start) / batch * 1e6)
            finally:
                for _, _, arm in arms:
                    await arm.close()
    finally:
        await fake.stop()
    return per_turn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_narrator_option(parser)
    parser.add_argument("--turns", type=int, default=600, help="turns per arm")
    parser.add_argument("--batch", type=int, default=20, help="turns per batch")
    parser.add_argument("--history-tokens", type=int, default=20,
                        help="tokens of each of the 50 history turns' answers")  # fmt: skip
    args = parser.parse_args()
    results = asyncio.run(run(args.narrator, args.turns, args.batch, args.history_tokens))
    print_medians(results, "CPU per turn (batches)", "ms", scale=1e3)


if __name__ == "__main__":
    main()
