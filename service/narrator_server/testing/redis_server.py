"""A private Redis server from Debian's package, for tests, benches and `make cluster`.

`start(directory)` starts `redis-server` on 127.0.0.1 and a free port, without persistence
(nothing of a turn log outlives its resume window), and waits until it answers PING. `stop()`
ends it, `restart()` starts it again on the same port (an outage in tests).

    python -m narrator_server.testing.redis_server DIR [--port N]

starts one and prints `{"redis_url": ..., "pid": ..., "dir": ...}` on one line, then runs
until SIGTERM or SIGINT, when it stops the server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

READY_WAIT_S = 30.0  # a generous bound on a slow machine's startup, not a speed check


class RedisServerError(RuntimeError):
    """The private server could not be started; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    temporary: bool = False
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def _launch(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RedisServerError("redis-server is not installed: run `make engines`")
        args = [
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
            "--logfile", str(self.log), "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        # It dies with the process that started it, even by SIGKILL: nothing is left behind.
        guard = ["setpriv", "--pdeathsig=KILL", "--"] if shutil.which("setpriv") else []
        self.process = subprocess.Popen([*guard, *args], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_WAIT_S
        while not _answers(self.port):
            if self.process.poll() is not None:
                tail = self.log.read_text()[-2000:] if self.log.exists() else ""
                raise RedisServerError(f"redis-server exited: {tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise RedisServerError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stops the server (its data is thrown away: there is no persistence)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot stop
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def pause(self) -> None:
        """Freezes the server (SIGSTOP): connections stay open, nothing answers."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Starts the stopped server again on the same port (empty)."""
        self.stop()
        self._launch()

    def remove(self) -> None:
        self.stop()
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)


def start(directory: Path | None = None, *, port: int = 0) -> RedisServer:
    """Starts a private server with its log in `directory` (a temporary one when None). It
    stops when the thread that started it ends: call this from the main thread."""
    temporary = directory is None
    directory = Path(tempfile.mkdtemp(prefix="narrator-redis-")) if directory is None else directory
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(5):  # a free port may be taken before redis binds it
        server = RedisServer(directory.resolve(), port or free_port(), temporary=temporary)
        try:
            server._launch()
            return server
        except RedisServerError:
            if port or attempt == 4:
                raise
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    server = start(options.directory, port=options.port)
    print(json.dumps({"redis_url": server.url, "pid": server.pid, "dir": str(server.directory)}),
          flush=True)  # fmt: skip
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with contextlib.suppress(KeyboardInterrupt):
        while not stopping and server.process is not None and server.process.poll() is None:
            time.sleep(0.2)
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
