"""The event loop the server runs on (`NARRATOR_EVENT_LOOP`).

`auto` (the default) takes uvloop where it is installed (a dependency everywhere it builds:
not on Windows) and asyncio's own loop otherwise; `uvloop` insists on it; `asyncio` never
uses it. uvloop runs the loop, its timers and its sockets in C over libuv: the same server
spends ~10% less CPU on a streamed token and on a turn (docs/operations.md). gRPC's
asyncio stack runs on any asyncio loop; nothing in the service depends on which.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

Choice = Literal["auto", "uvloop", "asyncio"]
T = TypeVar("T")


class LoopUnavailable(RuntimeError):
    """The loop asked for is not installed."""


def factory(choice: Choice) -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes the loop that `choice` names (`LoopUnavailable`: uvloop asked for, absent)."""
    if choice != "asyncio" and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        return uvloop.new_event_loop
    if choice == "uvloop":
        raise LoopUnavailable(
            "NARRATOR_EVENT_LOOP=uvloop, but uvloop is not installed (pip install uvloop, "
            "or NARRATOR_EVENT_LOOP=auto to fall back on asyncio's loop)"
        )
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], choice: Choice) -> T:
    """`asyncio.run(main)` on the loop `choice` names."""
    with asyncio.Runner(loop_factory=factory(choice)) as runner:
        return runner.run(main)


def name(loop: asyncio.AbstractEventLoop) -> str:
    """The running loop's kind, for the startup log: "uvloop" or "asyncio"."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
