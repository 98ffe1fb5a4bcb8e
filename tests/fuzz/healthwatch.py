"""Polls a server's health every 20 ms from its own process (so the harness's own work never
delays a check), until stdin closes; then prints one JSON list of [start, latency] pairs
(start on the system-wide monotonic clock; latency null when no answer came).

    python -m tests.fuzz.healthwatch ADDRESS
"""

from __future__ import annotations

import json
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> None:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
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
