"""Values worked out once from objects that never change, found again by the object's identity.

A session's history comes back as the same turn objects turn after turn (the store keeps its
window decoded), so what a prompt derives from each of them (a section, chat messages, their
JSON) need not be worked out again for every turn. A lookup by `id()` hashes nothing of the
object's contents. Each entry holds its object, so the id cannot be reused while the value is
kept; the oldest entries go first once the weight of what is held passes the budget (a
session's window turns are used every turn, so they come back at once if dropped). Safe to
share between threads.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    """`derive(key)`, kept by the key's identity. Keys must be immutable (frozen dataclasses,
    strings): a key changed in place would be answered with what it was. `weigh(key, value)`:
    what an entry holds (e.g. characters), counted against `budget`; past it, the entries
    kept longest go first."""

    def __init__(self, derive: Callable[[K], V], weigh: Callable[[K, V], int], budget: int) -> None:
        self._derive = derive
        self._weigh = weigh
        self.budget = budget
        self.weight = 0
        self._entries: dict[int, tuple[K, V, int]] = {}
        self._lock = threading.Lock()  # for writes: a lookup is one atomic dict read

    def __len__(self) -> int:
        return len(self._entries)

    def __call__(self, key: K) -> V:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0] is key:
            return entry[1]
        value = self._derive(key)
        weight = self._weigh(key, value)
        if weight <= self.budget:
            self._keep(key, value, weight)
        return value

    def _keep(self, key: K, value: V, weight: int) -> None:
        entries = self._entries
        with self._lock:
            old = entries.pop(id(key), None)
            if old is not None:
                self.weight -= old[2]
            entries[id(key)] = (key, value, weight)
            self.weight += weight
            while self.weight > self.budget:  # the oldest first (dicts keep insertion order)
                self.weight -= entries.pop(next(iter(entries)))[2]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.weight = 0
