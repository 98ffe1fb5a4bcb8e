"""What went wrong with the SQLite file, in words for clients and operators, and the checks
made when it is opened (a damaged, truncated or read-only file, a second server on it).

Driver errors are classified by SQLite's own error names, not by their text.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from ..core.errors import StoreUnavailable

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no data dir lock
    fcntl = None  # type: ignore[assignment]

DAMAGED = "the database file is damaged"
_RESTORE = "restore it from a backup, or move it away to start with an empty database"
_WRITABLE = "make NARRATOR_DATA_DIR writable, or point it at a writable directory"
# (error name prefix, what happened, what the operator can do)
_KINDS = (
    ("SQLITE_FULL", "the disk is full", "free some space on it"),
    ("SQLITE_CORRUPT", DAMAGED, _RESTORE),
    ("SQLITE_NOTADB", "the file is not a Narrator database or is damaged", _RESTORE),
    ("SQLITE_READONLY", "the database is read-only", _WRITABLE),
    ("SQLITE_CANTOPEN", "the database file cannot be opened (permissions?)", _WRITABLE),
    ("SQLITE_PERM", "the database file cannot be opened (permissions?)", _WRITABLE),
    ("SQLITE_BUSY", "the database is locked by another process", "stop that process"),
    ("SQLITE_LOCKED", "the database is locked by another process", "stop that process"),
    ("SQLITE_IOERR", "the disk could not read or write the database", "check the disk"),
)


def explain(error: sqlite3.Error) -> tuple[str, str]:
    """What happened and what to do about it."""
    name = getattr(error, "sqlite_errorname", "") or ""
    for prefix, what, todo in _KINDS:
        if name.startswith(prefix):
            return what, todo
    return "the database cannot be used", "check the server's log"


def is_damage(error: sqlite3.Error) -> bool:
    name = getattr(error, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def check_whole_pages(db: sqlite3.Connection, path: Path) -> None:
    """A database file is a whole number of pages; anything else was cut short."""
    page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
    size = path.stat().st_size
    if page_size and size % page_size:
        raise StoreUnavailable(
            f"the file is truncated ({size} bytes is not a whole number of {page_size}-byte "
            f"pages); {_RESTORE}"
        )


class DataDirLock:
    """An exclusive lock on the data directory while a server uses it: a second server on
    the same directory would mark the first one's running turns as interrupted."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:
            return
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreUnavailable(
                f"the data directory is not writable ({error.strerror}); {_WRITABLE}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreUnavailable(
                "another narrator server uses this data directory; stop it, or give each "
                "server its own NARRATOR_DATA_DIR"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
