"""The fuzz harness's pieces: the server under test, its health watch, its CPU time, and
the numbers it reports (worst request's server CPU and wall time, health latencies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2

if TYPE_CHECKING:
    import grpc

    from narrator.v1 import narrator_service_pb2_grpc as pb_grpc

HEALTH_SLOW_S = 0.25  # the requirement: health answers in < 250 ms throughout
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its reaped children and its live children (the workers)."""

    def stat(p: int) -> list[str]:
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    fields = stat(pid)
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                total += sum(int(x) for x in stat(int(child))[11:13])
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total / TICK


class HealthWatch:
    """Health checks every 20 ms from another process (`healthwatch.py`): this process's own
    work (building a 10,000-option request holds the GIL) never delays a check."""

    def __init__(self, address: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.healthwatch", address],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._process.stdout is not None
        assert self._process.stdout.readline().strip() == "ready"
        self.samples: list[tuple[float, float]] = []  # (start, latency; inf: no answer)

    def stop(self) -> None:
        if self._process.returncode is not None:
            return
        out, _ = self._process.communicate(timeout=60)
        self.samples = [(start, float("inf") if latency is None else latency)
                        for start, latency in json.loads(out.splitlines()[-1])]  # fmt: skip


@dataclass
class Call:
    rpc: str
    code: str
    wall_s: float
    cpu_s: float
    start: float
    request: str


@dataclass
class FuzzServer:
    process: subprocess.Popen[bytes]
    address: str
    data_dir: Path
    log: Path
    channel: grpc.Channel
    stub: pb_grpc.NarratorServiceStub
    health: HealthWatch
    sessions: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def new_session(self, player: str = "Ash") -> str:
        response = self.stub.CreateSession(
            pb.CreateSessionRequest(
                setting=session_pb2.Setting(world="a drowned city", tone="grim"),
                player=session_pb2.PlayerCharacter(name=player),
            ),
            timeout=30,
        )
        return str(response.session.session_id)

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def slow_health(self) -> list[tuple[float, float]]:
        return [s for s in self.health.samples if s[1] > HEALTH_SLOW_S]

    def during(self, start: float, latency: float) -> list[str]:
        """The calls that ran while a health check waited."""
        end = start + latency
        return [f"{c.rpc}: {c.request}" for c in self.calls
                if c.start < end and c.start + c.wall_s > start]  # fmt: skip


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def report(server: FuzzServer) -> dict[str, Any]:
    latencies = [s[1] for s in server.health.samples]
    worst_cpu = max(server.calls, key=lambda c: c.cpu_s, default=None)
    timed = [c for c in server.calls if c.rpc != "WatchSession"]
    worst_wall = max(timed, key=lambda c: c.wall_s, default=None)
    return {
        "calls": len(server.calls),
        "codes": {
            code: sum(1 for c in server.calls if c.code == code)
            for code in sorted({c.code for c in server.calls})
        },
        "worst_cpu_s": worst_cpu.cpu_s if worst_cpu else 0.0,
        "worst_cpu_call": f"{worst_cpu.rpc} {worst_cpu.code}: {worst_cpu.request}"
        if worst_cpu
        else "",
        "worst_wall_s": worst_wall.wall_s if worst_wall else 0.0,
        "worst_wall_call": f"{worst_wall.rpc} {worst_wall.code}: {worst_wall.request}"
        if worst_wall
        else "",
        "health_checks": len(latencies),
        "health_p50_ms": 1000 * _percentile(latencies, 0.5),
        "health_p99_ms": 1000 * _percentile(latencies, 0.99),
        "health_max_ms": 1000 * max(latencies, default=0.0),
        "health_over_250ms": len(server.slow_health()),
    }
