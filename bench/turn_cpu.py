"""A turn's server CPU on several arms, interleaved: what `compare.py`'s per-turn row and
`per_turn_ab.py` measure.

Each arm's session first plays 50 turns of `history_tokens`-token answers; then batches of
1-token turns, 20 ms apart, go to each arm in turn. Measured arm after arm, the arm measured
second read ~6% more CPU a turn whichever it was (the order swapped, the bias followed it);
in batches, what else the machine does weighs on every arm alike. For each turn: the server's
CPU until its first token reached the client, and for the whole turn (its stream and what the
server does after it, given 20 ms to do it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from arms import Measure, control_fake

if TYPE_CHECKING:
    from arms import Process


@dataclass
class TurnCpu:
    """One arm's CPU a turn, in µs, one value a batch; `failed` says why it stopped early."""

    first: list[float] = field(default_factory=list)
    whole: list[float] = field(default_factory=list)
    failed: str = ""


@dataclass
class _Player:
    client: Any
    server: Process
    session: Any = None
    scratch: Measure = field(default_factory=Measure)
    firsts: list[float] = field(default_factory=list)


async def turn_cpu(
    arms: dict[str, tuple[Any, Process]],
    upstream: str,
    *,
    turns: int,
    batch: int = 20,
    history_tokens: int = 20,
) -> dict[str, TurnCpu]:
    """`arms`: name → (client with `worker()` and `turn()`, its server process)."""
    results = {name: TurnCpu() for name in arms}
    players: dict[str, _Player] = {}
    await asyncio.to_thread(control_fake, upstream, tokens=[history_tokens] * 2, pace=0.0)
    for name, (client, server) in arms.items():
        player = _Player(client, server)
        player.scratch.on_first = lambda p=player: p.firsts.append(p.server.cpu())
        try:
            player.session = await client.worker()
            for _ in range(50):
                await client.turn(player.session, player.scratch)
        except Exception as error:
            results[name].failed = repr(error)
            continue
        players[name] = player
    await asyncio.to_thread(control_fake, upstream, tokens=[1, 1], pace=0.0)
    for _ in range(max(1, turns // batch)):
        for name, player in list(players.items()):
            await asyncio.sleep(0.05)
            first = whole = 0.0
            try:
                for _ in range(batch):
                    start = player.server.cpu()
                    await player.client.turn(player.session, player.scratch)
                    first += player.firsts[-1] - start
                    await asyncio.sleep(0.02)
                    whole += player.server.cpu() - start
            except Exception as error:
                results[name].failed = repr(error)
                del players[name]
                continue
            results[name].first.append(first / batch * 1e6)
            results[name].whole.append(whole / batch * 1e6)
    return results
