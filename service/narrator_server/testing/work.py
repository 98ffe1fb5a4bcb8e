"""Functions for the worker pool's tests: each misbehaves in one way a hostile input could."""

from __future__ import annotations

import os
import re
import signal
import sys


def echo(value: object) -> object:
    return value


def pid(_: object) -> int:
    return os.getpid()


def spin(_: object) -> None:
    """Pure Python forever: the worker's own timer stops it."""
    while True:
        pass


def backtrack(length: int) -> bool:
    """Python's backtracking regex engine (it checks for signals now and then)."""
    return re.match(r"^(a+)+$", "a" * length + "!") is not None


def deaf(_: object) -> None:
    """As if stuck in C code that never checks for signals: only killing the worker stops it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    while True:
        pass


def fail(message: str) -> None:
    raise ValueError(message)


def allocate(size: int) -> int:
    return len(bytearray(size))


def loaded(module: str) -> bool:
    """Whether the worker has imported `module` (what its start-up preloaded)."""
    return module in sys.modules
