"""Child processes start the same way on any event loop: no Python code runs in the child
before it execs (no at-fork hook: with gRPC's threads busy, one can kill the child)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import pytest

from narrator_server.workers.spawn import spawn

if TYPE_CHECKING:
    from collections.abc import Iterator

_HOOK = {"fd": -1}


def _after_fork_in_child() -> None:
    if _HOOK["fd"] >= 0:
        os.write(_HOOK["fd"], b"hook ran")


os.register_at_fork(after_in_child=_after_fork_in_child)


@pytest.fixture
def fork_hook_pipe() -> Iterator[int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    _HOOK["fd"] = write
    yield read
    _HOOK["fd"] = -1
    os.close(read)
    os.close(write)


async def test_a_child_runs_no_at_fork_hook_and_talks_over_its_pipes(fork_hook_pipe: int) -> None:
    echo = "import sys; sys.stdout.write(sys.stdin.readline().upper())"
    child = await spawn([sys.executable, "-c", echo])
    child.stdin.write(b"ready\n")
    await child.stdin.drain()
    assert await child.stdout.readline() == b"READY\n"
    assert await child.wait() == 0
    child.stdin.close()
    with pytest.raises(BlockingIOError):  # nothing written: the hook never ran in the child
        os.read(fork_hook_pipe, 100)


async def test_a_killed_child_is_reaped() -> None:
    child = await spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    child.kill()
    assert await child.wait() == -9
    child.kill()  # once reaped, a no-op
    assert await child.wait() == -9
