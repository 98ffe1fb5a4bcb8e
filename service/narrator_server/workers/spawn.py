"""Starts a child process with pipes to its stdin and stdout, on any event loop.

`subprocess.Popen` starts it (vfork and exec: no Python code and no at-fork handler runs in
the child) and the pipes join the running loop as streams. An event loop's own subprocess
support may `fork()` and run the interpreter's at-fork hooks in the child before `exec` (uvloop
does): with gRPC's threads busy at that moment, such a child can die before it runs a line
of its own.
"""

from __future__ import annotations

import asyncio
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


class Child:
    """A started child: `stdin` and `stdout` as streams, `kill()` and `wait()`."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
    ) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.stdin = stdin
        self.stdout = stdout

    def kill(self) -> None:
        self._popen.kill()  # a no-op once it was reaped

    async def wait(self) -> int:
        """Its exit status, once it ended (reaped in a thread: the loop never blocks)."""
        if self._popen.returncode is not None:
            return self._popen.returncode
        return await asyncio.to_thread(self._popen.wait)


async def spawn(argv: Sequence[str]) -> Child:
    """`argv` started with piped stdin and stdout (stderr inherited). Raises `OSError` when it
    cannot start."""
    popen = await asyncio.to_thread(
        subprocess.Popen, list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    )
    assert popen.stdin is not None
    assert popen.stdout is not None
    loop = asyncio.get_running_loop()
    stdout = asyncio.StreamReader()
    reading: asyncio.BaseTransport | None = None
    try:
        reading, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdout), popen.stdout
        )
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), popen.stdin
        )
    except BaseException:
        if reading is not None:
            reading.close()
        popen.kill()
        await asyncio.to_thread(popen.wait)
        raise
    return Child(popen, asyncio.StreamWriter(transport, protocol, None, loop), stdout)
