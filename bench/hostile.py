"""Each hostile Decide of issue 8 against a real server process, while health is polled from
another process: prints each request's answer, wall time and server CPU time (workers
included), then the health check latencies. Prints numbers; asserts nothing.

    .venv/bin/python bench/hostile.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import grpc

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator.v1 import session_pb2
from narrator_server.testing import hostile
from narrator_server.testing.healthwatch import HealthWatch, cpu_seconds, percentile


def start(data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NARRATOR_"))}
    environ |= {"NARRATOR_PORT": "0", "NARRATOR_METRICS_PORT": "-1", "NARRATOR_DATA_DIR": data_dir,
                "NARRATOR_OFFLINE_PACE_MS": "0", "NARRATOR_LOG_LEVEL": "ERROR"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "narrator_server"], env=environ, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    return process, process.stdout.readline().decode().split()[-1]


def run(stub: pb_grpc.NarratorServiceStub, request: pb.DecideRequest) -> str:
    try:
        for _ in stub.Decide(request, timeout=60):
            pass
    except grpc.RpcError as error:
        return str(error.code().name)
    return "OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="times each request is sent")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        process, address = start(data_dir)
        channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", -1)])
        stub = pb_grpc.NarratorServiceStub(channel)
        session = stub.CreateSession(pb.CreateSessionRequest(
            setting=session_pb2.Setting(world="a goblin warren"),
            player=session_pb2.PlayerCharacter(name=hostile.PLAYER),
        )).session.session_id  # fmt: skip
        run(stub, hostile.decides(session)[-1].request)  # the workers start before the timing
        watch = HealthWatch(address)
        print(f"{'request':58} {'answer':17} {'wall ms':>8} {'cpu ms':>7}")
        worst = ("", 0.0, 0.0)
        for case in hostile.decides(session):
            walls, cpus = [], []
            for _ in range(args.rounds):
                cpu, wall = cpu_seconds(process.pid), time.monotonic()
                answer = run(stub, case.request)
                walls.append(time.monotonic() - wall)
                cpus.append(cpu_seconds(process.pid) - cpu)
            print(
                f"{case.name[:58]:58} {answer:17} {1000 * max(walls):8.1f} {1000 * max(cpus):7.0f}"
            )
            if max(cpus) > worst[2]:
                worst = (case.name, max(walls), max(cpus))
        watch.stop()
        channel.close()
        process.terminate()
        process.wait()
    latencies = watch.latencies()
    print(
        f"\nworst server CPU: {1000 * worst[2]:.0f} ms ({worst[0]}; wall {1000 * worst[1]:.0f} ms)"
    )
    p50, p99 = (1000 * percentile(latencies, q) for q in (0.5, 0.99))
    print(f"health checks: {len(latencies)}, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {1000 * max(latencies):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
