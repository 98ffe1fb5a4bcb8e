"""Chaos for the fake upstream and a soak driver: many concurrent turns through a real server
while the upstream misbehaves, some clients cancelling or reconnecting mid-stream.

Used by `bench/chaos_soak.py` (long, prints numbers) and by the tests (short, asserts)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2

from .replies import Reply

if TYPE_CHECKING:
    from narrator.v1 import narrator_service_pb2_grpc as pb_grpc

FAULTS = (
    "429 Retry-After", "500", "503", "drop before first byte", "drop mid stream", "stall",
    "slow first byte", "malformed chunk",
)  # fmt: skip


class FaultInjector:
    """Turns an answer into a faulty one with probability `rate`, the fault drawn evenly from
    the catalogue, at a random chunk. `slow` is a first-byte delay past the stall timeout."""

    def __init__(self, rate: float, seed: int = 1, slow: float = 1.0) -> None:
        self.rate = rate
        self.slow = slow
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)

    def __call__(self, reply: Reply) -> Reply:
        rng = self._rng
        if rng.random() >= self.rate:
            self.counts["none"] += 1
            return reply
        fault = rng.choice(FAULTS)
        self.counts[fault] += 1
        at = rng.randint(0, max(0, len(reply.pieces()) - 1))
        changes: dict[str, dict[str, Any]] = {
            "drop before first byte": {"drop_before_response": True},
            "drop mid stream": {"drop_after": at},
            "stall": {"stall_after": at},
            "slow first byte": {"first_byte_delay": rng.choice((0.05, self.slow))},
            "malformed chunk": {"malformed_after": at},
        }
        change = changes.get(fault, {})
        if fault == "429 Retry-After":
            return Reply.error(429, retry_after_ms=rng.randint(5, 50))
        if fault in ("500", "503"):
            return Reply.error(int(fault))
        return dataclasses.replace(reply, **change)


@dataclass
class SoakReport:
    started: int = 0
    completed: int = 0
    recovered: int = 0
    fallen_back: int = 0
    cancelled_by_client: int = 0
    resumed: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    seq_errors: int = 0  # duplicated, missing or out-of-order seq
    text_errors: int = 0  # deltas that do not join into the completed text
    decisions_invalid: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        failed = ", ".join(f"{code} {n}" for code, n in sorted(self.failed.items())) or "none"
        return [
            f"turns started {self.started}, completed {self.completed} "
            f"(recovered mid-stream {self.recovered}, fallen back to offline {self.fallen_back}), "
            f"cancelled by clients {self.cancelled_by_client}, resumed {self.resumed}",
            f"failed by code: {failed}",
            f"seq errors (duplicated/missing): {self.seq_errors}, text mismatches: "
            f"{self.text_errors}, invalid decisions: {self.decisions_invalid}",
        ]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


OPTIONS = [("attack", "the goblin attacks"), ("flee", "the goblin flees")]


class _Turn:
    """One client's view of one turn, across a reconnection."""

    def __init__(self, report: SoakReport) -> None:
        self.report = report
        self.texts: list[str] = []
        self.last_seq = 0
        self.completed: Any = None
        self.decision: Any = None
        self.offline = False

    def take(self, message: Any) -> Any:
        kind = message.WhichOneof("event")
        if kind == "delta":
            if message.delta.seq != self.last_seq + 1:
                self.report.seq_errors += 1
            self.last_seq = message.delta.seq
            self.texts.append(message.delta.text)
        elif kind == "completed":
            self.completed = message.completed
        elif kind == "decision":
            self.decision = message.decision
        elif kind == "started" and not self.offline:
            self.offline = message.started.provider == "offline"
        return kind

    def judge(self, decide: bool) -> None:
        report = self.report
        if self.completed is None:
            return
        report.completed += 1
        report.recovered += bool(self.completed.recoveries)
        report.fallen_back += self.offline
        if "".join(self.texts) != self.completed.text:
            report.text_errors += 1
        options = {o for o, _ in OPTIONS}
        if decide and (self.decision is None or self.decision.option_id not in options):
            report.decisions_invalid += 1


async def soak(
    stub: pb_grpc.NarratorServiceStub,
    *,
    concurrency: int,
    seconds: float | None = None,
    turns: int | None = None,
    cancel_share: float = 0.1,
    resume_share: float = 0.1,
    decide_share: float = 0.2,
    seed: int = 7,
    timeout: float = 60.0,
) -> SoakReport:
    """Runs turns from `concurrency` clients until `seconds` pass or `turns` were started."""
    report = SoakReport()
    rng = random.Random(seed)
    session = await stub.CreateSession(
        pb.CreateSessionRequest(
            setting=session_pb2.Setting(world="a soak"),
            player=session_pb2.PlayerCharacter(name="Tester"),
        )
    )
    session_id = session.session.session_id
    began = time.monotonic()

    def more() -> bool:
        if turns is not None and report.started >= turns:
            return False
        return seconds is None or time.monotonic() - began < seconds

    async def one(worker: int, n: int) -> None:
        report.started += 1
        behaviour = rng.random()
        decide = rng.random() < decide_share
        turn_id = f"soak-{worker}-{n}"
        cut = rng.randint(1, 12)
        view = _Turn(report)

        def call(after: int = 0) -> Any:
            if decide:
                request = pb.DecideRequest(session_id=session_id, question="What now?",
                                           turn_id=turn_id, resume_after_seq=after)  # fmt: skip
                request.options.add(id=OPTIONS[0][0], description=OPTIONS[0][1])
                request.options.add(id=OPTIONS[1][0], description=OPTIONS[1][1])
                return stub.Decide(request, timeout=timeout)
            return stub.Narrate(
                pb.NarrateRequest(session_id=session_id, action="I press on", turn_id=turn_id,
                                  resume_after_seq=after), timeout=timeout,
            )  # fmt: skip

        stream = call()
        try:
            if behaviour < cancel_share + resume_share:
                async for message in stream:
                    if view.take(message) == "delta" and view.last_seq >= cut:
                        break
                else:
                    view.judge(decide)  # the turn ended before the client meant to leave
                    return
                stream.cancel()
                if behaviour < cancel_share:
                    report.cancelled_by_client += 1
                    return
                report.resumed += 1
                stream = call(view.last_seq)
            async for message in stream:
                view.take(message)
            view.judge(decide)
        except grpc.aio.AioRpcError as error:
            report.failed[error.code().name] += 1

    async def worker(index: int) -> None:
        n = 0
        while more():
            n += 1
            await one(index, n)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    report.seconds = time.monotonic() - began
    return report
