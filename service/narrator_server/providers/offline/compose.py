"""Writes one turn's sentences from templates, never one the recent turns already said."""

from __future__ import annotations

import hashlib
import math
import random
import string
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

Slot = str | tuple[str, ...]


def _digest(parts: tuple[object, ...]) -> int:
    key = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def seeded(*parts: object) -> random.Random:
    """A generator seeded from the parts (stable across processes, unlike `hash`)."""
    return random.Random(_digest(parts))


def draw(*parts: object) -> float:
    """One number in [0, 1) from the parts, as stable as `seeded`."""
    return _digest(parts) / 2.0**64


def keys(text: str) -> list[str]:
    """The sentences of a text as the narrator compares them (lowercase), split where a
    sentence mark meets a space: plain string operations, cheap over a long history."""
    lowered = text.lower()
    marks = [m for m in (". ", "? ", "! ", "\u2026 ") if m in lowered]
    if not marks and "\n" not in lowered:
        return [lowered.strip()] if lowered.strip() else []
    for mark in marks:
        lowered = lowered.replace(mark, mark[0] + "\n")
    return [k for k in (s.strip() for s in lowered.split("\n")) if k]


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@lru_cache(maxsize=4096)
def _keys_of_turn(text: str) -> frozenset[str]:
    return frozenset(keys(text))


def keys_of(texts: Iterable[str]) -> set[str]:
    """The sentence keys of several turns' texts (each turn's are cached: every turn reads
    the same history again)."""
    out: set[str] = set()
    for text in texts:
        out |= _keys_of_turn(text)
    return out


class Writer:
    """The sentences of one turn. `banned` sentences (the last turns') are never written
    again; `stale` ones (older turns') only when nothing fresh fits."""

    def __init__(
        self,
        rng: random.Random,
        banned: set[str],
        stale: set[str],
        unfit: Callable[[str], bool] | None = None,
    ) -> None:
        self.rng = rng
        self.banned = banned
        self.stale = stale
        # A line the session's content rating rules out is never written (another is tried).
        self.unfit = unfit
        self.lines: list[str] = []
        self._keys: set[str] = set()
        self._templates: set[str] = set()

    def pick(self, pool: Sequence[str]) -> str:
        return pool[self.rng.randrange(len(pool))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def fresh(self, text: str) -> bool:
        return all(k not in self.banned and k not in self._keys for k in keys(text))

    def add(self, text: str) -> str:
        self.lines.append(text)
        self._keys.update(keys(text))
        return text

    def line(
        self, templates: Sequence[str], slots: Mapping[str, Slot], required: bool = False
    ) -> str:
        """A filled template, fresh, not used yet this turn (when `required`, a stale one
        rather than nothing); slots that are tuples are picked at random for each try. Adds
        it to the turn; "" when none fits."""
        fallback = ""
        n = len(templates)
        start = self.rng.randrange(n)
        step = self._stride(n)
        for i in range(n):
            template = templates[(start + i * step) % n]
            if template in self._templates and n > 1:
                continue
            self._templates.add(template)
            for _ in range(2):
                text = cap(template.format_map(self._fill(template, slots)))
                if not self.fresh(text) or (self.unfit is not None and self.unfit(text)):
                    continue
                if any(k in self.stale for k in keys(text)):
                    fallback = fallback or (text if required else "")
                    continue
                return self.add(text)
        return self.add(fallback) if fallback else ""

    def _fill(self, template: str, slots: Mapping[str, Slot]) -> dict[str, str]:
        filled = {}
        for name in _fields(template):
            value = slots[name]
            filled[name] = value if isinstance(value, str) else self.pick(value)
        return filled

    def _stride(self, n: int) -> int:
        """A step through n templates that visits each once, in a seeded order."""
        steps = _strides(n)
        return steps[self.rng.randrange(len(steps))]

    def text(self) -> str:
        return " ".join(line for line in self.lines if line)


@lru_cache(maxsize=4096)
def _fields(template: str) -> tuple[str, ...]:
    """The slot names a template uses (templates are constants: cached once each)."""
    return tuple({f for _, f, _, _ in string.Formatter().parse(template) if f})


@lru_cache(maxsize=256)
def _strides(n: int) -> tuple[int, ...]:
    return tuple(s for s in (1, 3, 5, 7, 11, 13) if math.gcd(n, s) == 1)
