"""A turn's server CPU on several arms, interleaved: what `compare.py`'s per-turn row and
`per_turn_ab.py` measure.

Each arm's session first plays 50 turns of `history_tokens`-token answers. Then, batch after
batch, each arm in turn plays `batch` turns of each of two shapes:

- **whole turn**: 1-token answers, 20 ms apart. The server's CPU from the call until 20 ms
  after the turn ended (its stream, storing it, recording its context, any summary it
  triggers).
- **to the first token**: 3-token answers, 20 ms a token. The server's CPU from the call until
  the turn's first text reached the client. The model's next token is then ~20 ms away, so
  nothing the turn does after its first text can be counted in. (With 1-token answers it was:
  the client reads the server's CPU after the text arrived, by when the server has often
  finished and stored the turn; that read ~2 ms more a turn here.) Moderation sends the first
  word once it is whole, when the second token arrives: that read and check are counted, as
  the time to the first token is. Turns are 60 ms apart, so a summary the last one triggered
  (a 3-token answer too) has ended.

Measured arm after arm, the arm measured second read ~6% more CPU a turn whichever it was
(the order swapped, the bias followed it); in batches, what else the machine does weighs on
every arm alike.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from arms import Measure, control_fake

if TYPE_CHECKING:
    from arms import Process

WHOLE = {"tokens": [1, 1], "pace": 0.0}
FIRST = {"tokens": [3, 3], "pace": 0.02}


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

    async def whole(self) -> float:
        start = self.server.cpu()
        await self.client.turn(self.session, self.scratch)
        await asyncio.sleep(0.02)
        return self.server.cpu() - start

    async def first(self) -> float:
        start = self.server.cpu()
        seen = len(self.firsts)
        await self.client.turn(self.session, self.scratch)
        if len(self.firsts) != seen + 1:
            raise RuntimeError("a turn without text")
        await asyncio.sleep(0.06)
        return self.firsts[-1] - start


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
    for _ in range(max(1, turns // batch)):
        for shape, column in ((WHOLE, "whole"), (FIRST, "first")):
            await asyncio.to_thread(control_fake, upstream, **shape)
            for name, player in list(players.items()):
                await asyncio.sleep(0.05)
                play = getattr(player, column)  # its method of the column's name
                try:
                    total = sum([await play() for _ in range(batch)])
                except Exception as error:
                    results[name].failed = repr(error)
                    del players[name]
                    continue
                getattr(results[name], column).append(total / batch * 1e6)
    return results
