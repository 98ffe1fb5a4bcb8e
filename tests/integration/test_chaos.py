"""A short chaos soak: faults at a high rate, clients cancelling and reconnecting; no seq is
ever duplicated or missing, every turn ends in a documented way, nothing stays open."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from narrator_server.testing.chaos import FaultInjector, soak
from narrator_server.testing.fake_openai import FakeOpenAI
from narrator_server.testing.replies import Reply

from ..support import serve
from .test_upstream_turns import upstream_settings

if TYPE_CHECKING:
    from pathlib import Path

DOCUMENTED = {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED"}


async def test_a_short_soak_keeps_every_stream_whole(tmp_path: Path) -> None:
    faults = FaultInjector(rate=0.3, seed=3, slow=0.6)
    text = " ".join(f"w{i}" for i in range(30)) + "."
    async with FakeOpenAI(Reply(text=text, pace=0.002), faults=faults) as fake:
        config = upstream_settings(
            tmp_path, fake, first_token_timeout_s=0.4, inter_token_timeout_s=0.3,
            resume_window_s=2.0, breaker_cooldown_s=0.2,
        )  # fmt: skip
        async with serve(config) as s:
            report = await soak(s.stub, concurrency=16, turns=160, seed=5)
            for _ in range(1000):  # cancellations reach the server asynchronously
                if s.app.open_streams() == (0, 0):
                    break
                await asyncio.sleep(0.01)
            assert s.app.open_streams() == (0, 0)
    assert report.started == 160
    assert report.seq_errors == 0
    assert report.text_errors == 0
    assert report.decisions_invalid == 0
    assert set(report.failed) <= DOCUMENTED
    ended = report.completed + report.cancelled_by_client + sum(report.failed.values())
    assert ended == report.started
    assert report.recovered > 0
    assert sum(n for fault, n in faults.counts.items() if fault != "none") > 20
