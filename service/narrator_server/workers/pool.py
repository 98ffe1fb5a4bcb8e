"""The `Offload` adapter: a small pool of worker processes, each killed and replaced when it
overruns.

Workers start on first need (up to `size`) as `python -m narrator_server.workers.child` with
pipes for stdin/stdout (`spawn.py`: started the same way on any event loop), so the event loop
only ever waits on pipes. A call takes one idle worker; past `size` busy workers, up to
`queue_limit` calls wait and the next is refused (`Overloaded`). The child interrupts an item
at its budget by itself; a child that has not answered `grace` seconds after the call's total
budget is killed, its missing items reported as overrun, and a fresh worker starts for the next
call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import Overloaded
from ..core.offload import WorkFailed
from . import frames
from .spawn import Child, spawn

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)
R = TypeVar("R")
START_TIMEOUT_S = 30.0


class _Worker:
    def __init__(self, process: Child) -> None:
        self.process = process
        self.stdin = process.stdin
        self.stdout = process.stdout
        self.alive = True

    async def read(self) -> Any:
        header = await self.stdout.readexactly(frames.HEADER.size)
        return frames.decode(await self.stdout.readexactly(frames.HEADER.unpack(header)[0]))

    def stop(self) -> None:
        self.alive = False
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def kill(self) -> None:
        self.stop()
        await self.process.wait()

    async def close(self) -> None:
        self.alive = False
        self.stdin.close()
        try:
            async with asyncio.timeout(2.0):
                await self.process.wait()
        except TimeoutError:
            await self.kill()


class WorkerPool:
    """Runs package functions in worker processes within their time budget (see module)."""

    def __init__(
        self,
        size: int = 2,
        queue_limit: int = 64,
        grace: float = 0.25,
        # Loaded as each worker starts, so a call's budget is never spent importing.
        preload: Sequence[str] = (
            "narrator_server.core.schema_tasks",
            "narrator_server.core.schema_validator",
        ),
    ) -> None:
        self.size = size
        self.queue_limit = queue_limit
        self.grace = grace
        self._preload = tuple(preload)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0
        self._waiters: list[asyncio.Future[_Worker | None]] = []
        self._calls: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.killed = 0  # workers killed for overrunning (a metric for tests and benches)

    def pids(self) -> list[int]:
        """Process ids of the live workers (benches read their CPU time)."""
        return [w.process.pid for w in self._all if w.alive]

    async def map(
        self, fn: Callable[[Any], R], items: Sequence[Any], *, each: float, total: float
    ) -> list[R | WorkFailed]:
        if not items:
            return []
        worker = await self._acquire()
        call = asyncio.ensure_future(self._call(worker, fn, list(items), each, total))
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)
        # Shielded: a caller that goes away leaves the call to end (within its budget), so the
        # worker's pipe is never left mid-frame.
        return await asyncio.shield(call)

    async def _call(
        self, worker: _Worker, fn: Callable[[Any], R], items: list[Any], each: float, total: float
    ) -> list[R | WorkFailed]:
        results: list[R | WorkFailed] = [WorkFailed(overrun=True)] * len(items)
        try:
            async with asyncio.timeout(total + self.grace):
                worker.stdin.write(
                    frames.encode((fn.__module__, fn.__qualname__, items, each, total))
                )
                await worker.stdin.drain()
                while True:
                    index, ok, value = await worker.read()
                    if index < 0:
                        break
                    overrun = value == "overrun"
                    results[index] = value if ok else WorkFailed(overrun=overrun, reason=value)
        except TimeoutError:
            self.killed += 1
            log.warning("a schema worker overran its budget; replacing it",
                        extra={"function": fn.__qualname__, "budget_s": total})  # fmt: skip
            await worker.kill()
        except asyncio.CancelledError:
            worker.stop()  # mid-frame: this worker's pipe cannot be trusted any more
            raise
        except Exception as error:  # the worker died (out of memory, killed) or broke a frame
            log.error("a schema worker failed; replacing it", extra={"error": repr(error)[:200]})
            await worker.kill()
            results = [
                r if not isinstance(r, WorkFailed) else WorkFailed(False, "worker failed")
                for r in results
            ]
        finally:
            self._release(worker)
        return results

    async def _acquire(self) -> _Worker:
        if self._closed:
            raise Overloaded("the server is shutting down")
        if self._idle:
            return self._idle.pop()
        if len(self._all) + self._starting < self.size:
            return await self._start()
        if len(self._waiters) >= self.queue_limit:
            raise Overloaded(f"{self.queue_limit} calls already wait for a schema worker")
        waiter: asyncio.Future[_Worker | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            worker = await waiter
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                self._release(waiter.result())  # type: ignore[arg-type]
            raise
        return worker if worker is not None else await self._start()

    def _release(self, worker: _Worker) -> None:
        if not worker.alive:
            self._all.discard(worker)
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                # A dead worker's place goes to the waiter, which starts a fresh one.
                waiter.set_result(worker if worker.alive else None)
                return
        if worker.alive and not self._closed:
            self._idle.append(worker)

    async def _start(self) -> _Worker:
        self._starting += 1
        try:
            argv = [sys.executable, "-m", "narrator_server.workers.child", *self._preload]
            worker = _Worker(await spawn(argv))
            # Not `asyncio.wait_for`: on Python 3.11 it returns the read's result, dropping the
            # cancel, when the caller goes away just as the worker says it is ready.
            try:
                async with asyncio.timeout(START_TIMEOUT_S):
                    ready = await worker.read()
            except (TimeoutError, asyncio.IncompleteReadError) as error:
                await worker.kill()
                raise OSError(f"the worker did not start ({error!r})") from None
            except asyncio.CancelledError:
                worker.stop()  # started for a caller that went away: not left running
                raise
            if ready != frames.READY:
                await worker.kill()
                raise OSError(f"the worker said {ready!r} instead of ready")
        except OSError as error:
            log.error("cannot start a schema worker", extra={"error": str(error)[:300]})
            raise Overloaded("no schema worker could start; retry later", 5.0) from None
        finally:
            self._starting -= 1
        self._all.add(worker)
        return worker

    async def close(self) -> None:
        """Stops every worker (calls still running end first, within their budget)."""
        self._closed = True
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)
        for waiter in self._waiters:
            waiter.cancel()
        await asyncio.gather(*(w.close() for w in list(self._all)), return_exceptions=True)
        self._all.clear()
        self._idle.clear()
