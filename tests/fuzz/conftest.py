"""The fuzz harness's server: a real `python -m narrator_server` process on port 0, its health
polled from a thread all along, its CPU time read from /proc around every call.

Profiles: `ci` (the bounded, reproducible run of `make test`) and `long` (`make fuzz`). At the
end the harness prints the worst request's server CPU time and wall time, and the health
check latencies (p50, p99, max).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from hypothesis import HealthCheck, settings

from narrator.v1 import narrator_service_pb2_grpc as pb_grpc
from narrator_server.testing import hostile
from narrator_server.testing.healthwatch import HealthWatch

from .harness import FuzzServer, report

if TYPE_CHECKING:
    from collections.abc import Iterator

settings.register_profile(
    "ci",
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "long", max_examples=4000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile("ci")

REPORTS: list[dict[str, Any]] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for numbers in REPORTS:
        terminalreporter.write_sep("-", "fuzz harness")
        for key, value in numbers.items():
            shown = f"{value:.3f}" if isinstance(value, float) else value
            terminalreporter.write_line(f"{key}: {shown}")


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzServer]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    log = data_dir / "server.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NARRATOR_"))}
    environ |= {
        "NARRATOR_PORT": "0",
        "NARRATOR_METRICS_PORT": "-1",
        "NARRATOR_DATA_DIR": str(data_dir),
        "NARRATOR_OFFLINE_PACE_MS": "0",
        "NARRATOR_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "narrator_server"], env=environ,
            stdout=subprocess.PIPE, stderr=errors,
        )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    assert line.startswith("narrator listening on "), log.read_text()
    address = line.split()[-1]
    channel = grpc.insecure_channel(address)
    stub = pb_grpc.NarratorServiceStub(channel)
    server = FuzzServer(process, address, data_dir, log, channel, stub, HealthWatch(address))
    # What is measured is the server's own latency, not the machine's: the harness (which
    # generates the load) yields the CPU to the server and the health watch, and those two
    # go ahead of unrelated processes where the harness may raise their priority (as root).
    priority = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, priority + 10)
    for pid in (process.pid, server.health.pid):
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, pid, priority - 5)
    server.sessions = [server.new_session(), server.new_session(hostile.PLAYER)]
    server.warm_up()  # a schema worker starts now, not inside the first measured call
    try:
        yield server
    finally:
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, priority)
        server.health.stop()
        channel.close()
        process.terminate()
        process.wait(timeout=60)
        numbers = report(server)
        REPORTS.append(numbers)
        (data_dir / "fuzz-report.json").write_text(json.dumps(numbers, indent=2))
