"""Health latency and CPU time of a server process, for the fuzz harness and the benches.

`HealthWatch` polls a server's health every 20 ms from its own process (so the caller's own
work never delays a check): `python -m narrator_server.testing.healthwatch ADDRESS` runs until
its stdin closes, then prints one JSON list of [start, latency] pairs (start on the system-wide
monotonic clock; latency null when no answer came). `cpu_seconds` reads a process's CPU time,
its workers' included, from /proc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its reaped children and its live children (the workers)."""

    def stat(p: int) -> list[str]:
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    total = sum(int(x) for x in stat(pid)[11:15])  # utime stime cutime cstime
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                total += sum(int(x) for x in stat(int(child))[11:13])
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total / TICK


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class HealthWatch:
    """Health checks every 20 ms from another process (see the module)."""

    def __init__(self, address: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "narrator_server.testing.healthwatch", address],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._process.stdout is not None
        assert self._process.stdout.readline().strip() == "ready"
        self.pid = self._process.pid
        self.samples: list[tuple[float, float]] = []  # (start, latency; inf: no answer)

    def stop(self) -> None:
        """Ends the polling and collects the samples (once)."""
        if self._process.returncode is not None:
            return
        out, _ = self._process.communicate(timeout=60)
        self.samples = [(start, float("inf") if latency is None else latency)
                        for start, latency in json.loads(out.splitlines()[-1])]  # fmt: skip

    def latencies(self) -> list[float]:
        return [latency for _, latency in self.samples]


def main() -> None:
    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    samples: list[tuple[float, float | None]] = []
    with grpc.insecure_channel(sys.argv[1]) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()
        print("ready", flush=True)
        while not stop.is_set():
            start = time.monotonic()
            try:
                ok = stub.Check(request, timeout=5).status == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                ok = False
            samples.append((start, time.monotonic() - start if ok else None))
            stop.wait(0.02)
    print(json.dumps(samples), flush=True)


if __name__ == "__main__":
    main()
