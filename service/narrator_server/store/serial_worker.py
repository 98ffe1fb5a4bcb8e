"""One thread that runs blocking calls in the order they came, each answered on its caller's
event loop.

`loop.run_in_executor` builds a `concurrent.futures.Future` (with its own lock and condition)
for every call and chains it to an asyncio future through two callbacks; for a store that
makes three calls a turn, that is a measurable share of the turn's CPU. Here a call is one
queue item on the way in and one `call_soon_threadsafe` on the way back. A call cancelled
before the thread reaches it is skipped, as an executor's is.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")
_Loop = asyncio.AbstractEventLoop
_Call = tuple[_Loop, "asyncio.Future[Any]", "Callable[..., Any]", tuple[Any, ...]]


class SerialWorker:
    """Runs `call`s on its own thread, one at a time, in order."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`fn(*args)` on the worker's thread; its result (or error) in the future. Raises
        `RuntimeError` once the worker is closed."""
        if self._closed:
            raise RuntimeError("the worker is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, fn, args))
        return future

    def close(self) -> None:
        """Runs what was already asked, then stops the thread (and waits for it)."""
        if not self._closed:
            self._closed = True
            self._calls.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while (item := self._calls.get()) is not None:
            loop, future, fn, args = item
            del item
            if future.cancelled():  # a read of a flag: the loop may set it meanwhile, harmlessly
                continue
            try:
                result, error = fn(*args), None
            except BaseException as e:  # handed to the caller, whatever it is
                result, error = None, e
            with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, result, error)
            del future, result, error, fn, args


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled while the call ran
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
