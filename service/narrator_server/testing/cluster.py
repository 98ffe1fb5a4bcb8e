"""A whole deployment on this machine: private PostgreSQL and Redis, N replicas, nginx in front.

Used by `make cluster` (scripts/cluster.py), the multi-process tests and bench/cluster.py.
Everything lives under one directory: `postgres/`, `redis/`, `nginx/`, `replica-N/` (each
replica's own data dir: its span file) with its `stdout.log` and `stderr.log`, and
`cluster.json`, which says where everything is.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import nginx, postgres, redis_server

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

READY_WAIT_S = 60.0  # a generous bound on a replica's startup on a busy machine
_OURS = ("NARRATOR_PORT", "NARRATOR_DATA_DIR", "NARRATOR_DATABASE_URL", "NARRATOR_REDIS_URL",
         "NARRATOR_METRICS_PORT")  # fmt: skip


class ClusterError(RuntimeError):
    """A part of the cluster could not start; the message says which and why."""


@dataclass
class Replica:
    name: str
    process: subprocess.Popen[bytes]
    address: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Cluster:
    directory: Path
    replicas: int = 3
    port: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    nodes: list[Replica] = field(default_factory=list)
    database_url: str = ""
    redis_url: str = ""
    lb: nginx.Nginx | None = None
    _postgres: postgres.PostgresServer | None = None
    _redis: redis_server.RedisServer | None = None
    _started: int = 0

    def start(self) -> None:
        """Engines, replicas, then the load balancer; writes cluster.json. On failure,
        whatever started is stopped again."""
        self.directory = self.directory.resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._start_engines()
            for _ in range(self.replicas):
                self.start_replica()
            if self.replicas:
                port = self.port or redis_server.free_port()
                self.lb = nginx.start(
                    self.directory / "nginx", port, [r.address for r in self.nodes]
                )
            self.write_json()
        except BaseException:
            self.stop()
            raise

    def _start_engines(self) -> None:
        if not self.database_url:
            self._postgres = postgres.start(self.directory / "postgres")
            with contextlib.suppress(Exception):  # it exists from an earlier run
                self._postgres.create_database("narrator")
            self.database_url = self._postgres.url("narrator")
        if not self.redis_url:
            self._redis = redis_server.start(self.directory / "redis")
            self.redis_url = self._redis.url

    def replica_env(self, name: str) -> dict[str, str]:
        """`env` (the caller's environment: settings, OPENAI_*, PATH), then this cluster's."""
        ours = {
            "NARRATOR_PORT": "0",
            "NARRATOR_METRICS_PORT": "-1",
            "NARRATOR_DATA_DIR": str(self.directory / name),
            "NARRATOR_DATABASE_URL": self.database_url,
            "NARRATOR_REDIS_URL": self.redis_url,
        }
        return {k: v for k, v in self.env.items() if k not in _OURS} | ours

    def start_replica(self, **env: str) -> Replica:
        """One more replica (not added to a running load balancer)."""
        self._started += 1
        name = f"replica-{self._started}"
        home = self.directory / name
        home.mkdir(parents=True, exist_ok=True)
        out = home / "stdout.log"
        with out.open("wb") as stdout, (home / "stderr.log").open("ab") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "narrator_server"],
                env=self.replica_env(name) | env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        deadline = time.monotonic() + READY_WAIT_S
        while not (line := out.read_text()).startswith("narrator listening on "):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                tail = (home / "stderr.log").read_text()[-2000:]
                raise ClusterError(f"{name} did not start: {tail}")
            time.sleep(0.02)
        replica = Replica(name, process, line.split()[-1])
        self.nodes.append(replica)
        return replica

    def kill(self, replica: Replica) -> None:
        """kill -9: the replica dies mid-whatever, as a crashed machine would."""
        replica.process.kill()
        replica.process.wait()

    def describe(self) -> dict[str, Any]:
        return {
            "lb": self.lb.address if self.lb else "",
            "replicas": [{"addr": r.address, "pid": r.pid} for r in self.nodes if r.alive],
            "database_url": self.database_url,
            "redis_url": self.redis_url,
        }

    def write_json(self) -> None:
        path = self.directory / "cluster.json"
        path.write_text(json.dumps(self.describe(), indent=2) + "\n")
        path.chmod(0o600)  # the database URL holds a password

    def stop(self) -> None:
        """The load balancer first (no new calls), then the replicas (SIGTERM: they drain),
        then the engines."""
        if self.lb is not None:
            self.lb.stop()
            self.lb = None
        for replica in self.nodes:
            if replica.alive:
                replica.process.send_signal(signal.SIGTERM)
        for replica in self.nodes:
            try:
                replica.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait()
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
