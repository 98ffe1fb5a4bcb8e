"""Storage faults for tests: a disk that fills up, read-only directories and files, damaged
database files. Each works as root and as a normal user where it can, and skips otherwise."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import subprocess
from typing import TYPE_CHECKING

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import grpc

    from narrator_server.app import App

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def health(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    return int(reply.status)


def _run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


class PageLimit:
    """A full disk as SQLite sees it: the database may not grow by a single page."""

    name = "max_page_count"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    async def fill(self, app: App) -> None:
        await self._limit(app, 0)

    async def free(self, app: App) -> None:
        await self._limit(app, 2**30)

    @staticmethod
    async def _limit(app: App, pages: int) -> None:
        from narrator_server.store.sqlite import SqliteStore

        store = app.store
        assert isinstance(store, SqliteStore)

        def limit() -> None:
            now = store.db.execute("PRAGMA page_count").fetchone()[0]
            store.db.execute(f"PRAGMA max_page_count = {max(pages, now)}")

        await store._call(limit)


class SmallTmpfs:
    """A real full disk: a small tmpfs mounted for the test (root only; skipped otherwise)."""

    name = "tmpfs"

    def __init__(self, mount: Path) -> None:
        self.data_dir = mount
        self._filler = mount / "filler"

    @classmethod
    @contextlib.contextmanager
    def mounted(cls, where: Path) -> Iterator[SmallTmpfs]:
        where.mkdir()
        if not _run("mount", "-t", "tmpfs", "-o", "size=8m", "narrator-test", str(where)):
            pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
        try:
            yield cls(where)
        finally:
            _run("umount", "-l", str(where))

    def fill_now(self) -> None:
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for size in (65536, 4096, 512, 1):
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)

    async def fill(self, app: App | None = None) -> None:
        self.fill_now()

    async def free(self, app: App | None = None) -> None:
        self._filler.unlink()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[str]:
    """Makes `path` (a file or a directory) read-only in a way that also stops root; yields
    how. Skips the test when this machine offers no such way."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield "chmod"
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") and _run("chattr", "+i", str(path)):
        try:
            yield "chattr +i"
        finally:
            _run("chattr", "-i", str(path))
        return
    if path.is_dir() and _run("mount", "--bind", "-o", "ro", str(path), str(path)):
        try:
            yield "read-only bind mount"
        finally:
            _run("umount", "-l", str(path))
        return
    pytest.skip("no way to make a path read-only for root here (chattr, bind mount)")


def table_root_page(database: Path, table: str) -> tuple[int, int]:
    """The page number of a table's root and the page size."""
    db = sqlite3.connect(database)
    try:
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
    finally:
        db.close()
    return int(root), int(size)


def damage_page(database: Path, table: str) -> None:
    """Overwrites the root page of `table` (a b-tree page of real data) with garbage."""
    root, size = table_root_page(database, table)
    with database.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(bytes(range(256)) * (size // 256))
