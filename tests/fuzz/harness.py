"""The fuzz harness's pieces: the server under test, its health watch, its CPU time, and
the numbers it reports (worst request's server CPU and wall time, health latencies)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import session_pb2, turn_pb2
from narrator_server.testing import hostile
from narrator_server.testing.healthwatch import HealthWatch, cpu_seconds, percentile

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    import grpc

    from narrator.v1 import narrator_service_pb2_grpc as pb_grpc

HEALTH_SLOW_S = 0.25  # the requirement: health answers in < 250 ms throughout


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

    def warm_up(self) -> None:
        """One valid Decide with a schema: the first schema worker starts outside the calls."""
        schema, _ = hostile.SCHEMAS["pydantic model"]
        option = turn_pb2.DecisionOption(id="act", arguments_schema=schema)
        request = pb.DecideRequest(session_id=self.sessions[0], question="q", options=[option])
        for _ in self.stub.Decide(request, timeout=60):
            pass

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def slow_health(self) -> list[tuple[float, float]]:
        return [s for s in self.health.samples if s[1] > HEALTH_SLOW_S]

    def during(self, start: float, latency: float) -> list[str]:
        """The calls that ran while a health check waited."""
        end = start + latency
        return [f"{c.rpc}: {c.request}" for c in self.calls
                if c.start < end and c.start + c.wall_s > start]  # fmt: skip


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
        "health_p50_ms": 1000 * percentile(latencies, 0.5),
        "health_p99_ms": 1000 * percentile(latencies, 0.99),
        "health_max_ms": 1000 * max(latencies, default=0.0),
        "health_over_250ms": len(server.slow_health()),
    }
