"""A private PostgreSQL server from Debian's package, for tests, benches and `make cluster`.

`start(directory)` initialises a data dir (once), starts `postgres` on 127.0.0.1 and a free
port, with its Unix socket in the data dir, and waits until it accepts connections. PostgreSQL
refuses to run as root: as root the server runs as the unprivileged `postgres` user the package
creates, and the directory is given to it. The superuser `narrator` has a random password
(kept in the directory), so another local user cannot walk in over TCP.

    python -m narrator_server.testing.postgres [DIR] [--port N] [--fast]   (make postgres)

starts one (in `$NARRATOR_DATA_DIR/postgres` by default) and prints `{"database_url": ...,
"pid": ..., "dir": ...}` on one line, then runs until SIGTERM or SIGINT, when it stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..settings import Settings

SUPERUSER = "narrator"
SERVER_USER = "postgres"  # the account Debian's package creates
READY_WAIT_S = 60.0  # a generous bound on a slow machine's startup, not a speed check


class PostgresError(RuntimeError):
    """The private server could not be set up or started; the message says why."""


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    raise PostgresError(
        "PostgreSQL is not installed: run `make engines` (Debian's postgresql package)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running private server. `stop()` ends it; the data dir stays unless it was temporary."""

    directory: Path
    port: int
    password: str
    process: subprocess.Popen[bytes]
    temporary: bool = False
    fast: bool = False

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=10)

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def halt(self) -> None:
        """Stops the server, keeping its data (an outage, for tests; `restart` ends it)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Starts the server again on the same port with the same data."""
        self.halt()
        self.process = _launch(self.directory, self.port, self.fast)
        try:
            _wait_ready(self.directory, self.process, self.port)
        except _PortTaken:
            raise PostgresError(f"port {self.port} was taken while the server was down") from None

    def stop(self) -> None:
        """Fast shutdown (SIGINT: running transactions roll back); a temporary data dir is
        removed."""
        self.halt()
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)


def start(directory: Path | None = None, *, port: int = 0, fast: bool = False) -> PostgresServer:
    """Starts a private server in `directory` (a new temporary one when None), initialising
    it on first use. `fast` turns off fsync: for throwaway test data only. The server stops
    when the thread that started it ends: call this from the main thread."""
    temporary = directory is None
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="narrator-pg-"))
    directory = directory.resolve()
    try:
        password = _prepare(directory)
        attempts = 1 if port else 5
        for attempt in range(attempts):
            chosen = port or free_port()
            process = _launch(directory, chosen, fast)
            try:
                _wait_ready(directory, process, chosen)
            except _PortTaken:
                if attempt + 1 < attempts:
                    continue
                raise PostgresError(f"port {chosen} is in use") from None
            return PostgresServer(directory, chosen, password, process, temporary, fast)
        raise AssertionError("unreachable")
    except BaseException:
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)
        raise


class _PortTaken(Exception):
    pass


def _as_server_user() -> dict[str, Any]:
    """Popen arguments that drop root to the server account (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresError(
            f"running as root, and there is no {SERVER_USER!r} user to run PostgreSQL as: "
            "install Debian's postgresql package (`make engines`)"
        ) from None
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _prepare(directory: Path) -> str:
    """Creates and initialises the data dir on first use; returns the superuser's password."""
    data, secret = directory / "data", directory / "superuser.password"
    directory.mkdir(parents=True, exist_ok=True)
    drop = _as_server_user()
    if drop:
        _check_reachable(directory)
        os.chown(directory, drop["user"], drop["group"])
    if (data / "PG_VERSION").exists():
        return secret.read_text().strip()
    password = secrets.token_hex(16)
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    if drop:
        os.chown(secret, drop["user"], drop["group"])
    command = [
        str(bin_dir() / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={secret}",
        "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale",
        "--no-sync", "--no-instructions",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, **drop)
    if done.returncode:
        shutil.rmtree(data, ignore_errors=True)
        raise PostgresError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    return password


def _check_reachable(directory: Path) -> None:
    """The server account must be able to walk down to the directory."""
    for parent in directory.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            raise PostgresError(
                f"{parent} is not searchable by other users, so PostgreSQL (running as "
                f"{SERVER_USER!r}) cannot reach {directory}; choose a directory under /tmp"
            )


def _launch(directory: Path, port: int, fast: bool) -> subprocess.Popen[bytes]:
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(directory),
        "max_connections": "300",
        "shared_buffers": "64MB",
    }
    if fast:
        settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    # The server stops (fast shutdown) when its owner dies, even by SIGKILL: a killed test
    # run leaves no PostgreSQL behind. setpriv execs it, so the pid is the server's.
    guard = ["setpriv", "--pdeathsig=INT", "--"] if shutil.which("setpriv") else []
    command = [*guard, str(bin_dir() / "postgres"), "-D", str(directory / "data")]
    for name, value in settings.items():
        command += ["-c", f"{name}={value}"]
    log = (directory / "postgres.log").open("ab")
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl+C at the terminal is the caller's to pass on
            **_as_server_user(),
        )
    finally:
        log.close()


def _wait_ready(directory: Path, process: subprocess.Popen[bytes], port: int) -> None:
    log = directory / "postgres.log"
    start = log.stat().st_size if log.exists() else 0
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_bytes()[start:].decode(errors="replace")
            if "Address already in use" in text or "could not create any TCP/IP" in text:
                raise _PortTaken
            raise PostgresError(f"postgres exited at start: {text.strip()[-2000:]}")
        # Ready once the server accepts a connection on its socket (trusted, no password).
        with contextlib.suppress(psycopg.OperationalError):
            psycopg.connect(
                host=str(directory), port=port, user=SUPERUSER,
                dbname="postgres", connect_timeout=2,
            ).close()  # fmt: skip
            return
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise PostgresError(f"postgres did not accept connections within {READY_WAIT_S:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m narrator_server.testing.postgres")
    parser.add_argument(
        "directory", type=Path, nargs="?", help="data dir, kept and reused "
        "(default: NARRATOR_DATA_DIR/postgres)",
    )  # fmt: skip
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--fast", action="store_true", help="fsync off: throwaway data only")
    parser.add_argument("--database", default="narrator", help="database to create if missing")
    args = parser.parse_args(argv)
    directory = args.directory or Settings.from_env().data_dir / "postgres"
    try:
        server = start(directory, port=args.port, fast=args.fast)
    except PostgresError as error:
        print(f"postgres: {error}", file=sys.stderr)
        return 1
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        with server.connect() as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (args.database,)
            ).fetchone()
        url = server.url(args.database) if exists else server.create_database(args.database)
        print(json.dumps({"database_url": url, "pid": server.process.pid,
                          "dir": str(server.directory)}), flush=True)  # fmt: skip
        print(f"PostgreSQL is up; Ctrl+C stops it. For the server:\n"
              f"  export NARRATOR_DATABASE_URL='{url}'", file=sys.stderr, flush=True)  # fmt: skip
        while not stopping and server.process.poll() is None:
            time.sleep(0.2)
    finally:
        server.stop()
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
