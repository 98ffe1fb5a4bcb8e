"""A worker process: runs the functions the server sends, each within its time budget.

`python -m narrator_server.workers.child` reads frames from stdin and writes one frame per item
to stdout: `(index, True, result)` or `(index, False, reason)`, then `(-1, True, None)`. An
item that overruns its budget is interrupted by a timer signal (pure Python code stops at the
next bytecode); one stuck in C code is the server's to kill. Memory is capped, and the process
runs at a lower priority than the server's event loop.
"""

from __future__ import annotations

import importlib
import os
import resource
import signal
import sys
import time
from typing import IO, Any

from . import frames

MEMORY_CAP_BYTES = 1 << 30
_OURS = "narrator_server."


class _Overrun(BaseException):
    """Raised by the timer inside the running item (a BaseException: nothing swallows it)."""


_armed = False


def _alarm(signum: int, frame: object) -> None:
    if _armed:
        raise _Overrun


def _read(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if data and len(data) == size else None


def _run(fn: Any, item: Any, budget: float) -> tuple[bool, Any]:
    global _armed
    if budget <= 0:
        return False, "overrun"
    try:
        _armed = True
        signal.setitimer(signal.ITIMER_REAL, budget)
        return True, fn(item)
    except _Overrun:
        return False, "overrun"
    except MemoryError:
        return False, "out of memory"
    except Exception as error:
        return False, f"{type(error).__name__}"
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def main() -> None:
    for module in sys.argv[1:]:  # imported before "ready": an import never eats a budget
        importlib.import_module(module)
    os.nice(5)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to stderr, never into the frames
    stdin = sys.stdin.buffer
    signal.signal(signal.SIGALRM, _alarm)
    out.write(frames.encode(frames.READY))
    out.flush()
    while True:
        header = _read(stdin, frames.HEADER.size)
        if header is None:
            return
        body = _read(stdin, frames.HEADER.unpack(header)[0])
        if body is None:
            return
        module, name, items, each, total = frames.decode(body)
        fn = getattr(importlib.import_module(module), name) if module.startswith(_OURS) else None
        deadline = time.monotonic() + total
        for i, item in enumerate(items):
            if fn is None:
                ok, value = False, "not a function of this package"
            else:
                ok, value = _run(fn, item, min(each, deadline - time.monotonic()))
            try:
                out.write(frames.encode((i, ok, value)))
            except Exception as error:  # an unpicklable result is this package's bug
                out.write(frames.encode((i, False, f"unpicklable result ({error})")))
            out.flush()
        out.write(frames.encode((-1, True, None)))
        out.flush()


if __name__ == "__main__":
    main()
