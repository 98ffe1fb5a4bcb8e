"""The port for CPU-bound work on hostile input: run it away from the event loop, in budget.

A thread cannot be stopped; the adapter (`workers/pool.py`) runs each function in a worker
process that it kills and replaces when the function overruns. The core only says what to run
and for how long, and turns a `WorkFailed` into a clear answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

R = TypeVar("R")


@dataclass(frozen=True)
class WorkFailed:
    """An item that gave no result: it overran its budget, or its worker failed."""

    overrun: bool
    reason: str = ""


class Offload(Protocol):
    """Runs a pure, module-level function of this package on each item, off the event loop.

    `fn` and the items must be picklable; `each` bounds one item's time and `total` the whole
    call's (seconds). Items run in order; an item that overruns gets `WorkFailed(overrun=True)`
    and so does every item the total budget did not reach. Raises `Overloaded` when too many
    calls already wait for a worker.
    """

    async def map(
        self, fn: Callable[[Any], R], items: Sequence[Any], *, each: float, total: float
    ) -> list[R | WorkFailed]: ...


class InlineOffload:
    """The fake: runs the function here, now, without a budget. Tests and tools only: it
    blocks the event loop for as long as the function runs."""

    async def map(
        self, fn: Callable[[Any], R], items: Sequence[Any], *, each: float, total: float
    ) -> list[R | WorkFailed]:
        return [fn(item) for item in items]
