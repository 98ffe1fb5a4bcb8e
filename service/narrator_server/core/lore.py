"""The lore book: entry validation, the per-session key matcher, and which entries a turn gets.

Keys match case-insensitively on word boundaries: text and keys are split into words (`\\w+`
after case folding) and a key matches where its words appear in a row. The matcher indexes
every key by its first word once per lore revision, so a turn costs one pass over its words
whatever the number of entries (no per-turn regex compilation).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import FieldViolation
from .prompt import estimate_tokens

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .memory_models import LoreEntry

_WORD = re.compile(r"\w+")
ENTRY_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class LoreLimits:
    """Bounds of the lore book (documented in docs/memory.md)."""

    max_entries: int = 500
    max_keys: int = 16
    max_key_chars: int = 100
    max_content_chars: int = 2000
    min_priority: int = -1000
    max_priority: int = 1000


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def check_entry(
    entry: LoreEntry, limits: LoreLimits, prefix: str = "entry"
) -> list[FieldViolation]:
    """Every problem of an entry; `prefix` names it in the request (or the save game)."""
    v: list[FieldViolation] = []
    if entry.entry_id and not ENTRY_ID.match(entry.entry_id):
        v.append(
            FieldViolation(
                f"{prefix}.entry_id", "must be 1-64 letters, digits, '_', '-', '.' or ':'"
            )
        )
    if not entry.content.strip():
        v.append(FieldViolation(f"{prefix}.content", "must not be empty"))
    elif len(entry.content) > limits.max_content_chars:
        v.append(
            FieldViolation(
                f"{prefix}.content",
                f"is {len(entry.content)} characters; the limit is {limits.max_content_chars}",
            )
        )
    if len(entry.keys) > limits.max_keys:
        v.append(
            FieldViolation(
                f"{prefix}.keys", f"has {len(entry.keys)} keys; the limit is {limits.max_keys}"
            )
        )
    elif not entry.keys and not entry.always_on:
        v.append(FieldViolation(f"{prefix}.keys", "at least one key is required unless always_on"))
    for i, key in enumerate(entry.keys[: limits.max_keys]):
        if len(key) > limits.max_key_chars:
            v.append(
                FieldViolation(
                    f"{prefix}.keys[{i}]",
                    f"is {len(key)} characters; the limit is {limits.max_key_chars}",
                )
            )
        elif not words(key):
            v.append(FieldViolation(f"{prefix}.keys[{i}]", "must contain a letter or a digit"))
    if not limits.min_priority <= entry.priority <= limits.max_priority:
        v.append(
            FieldViolation(
                f"{prefix}.priority",
                f"must be from {limits.min_priority} to {limits.max_priority}",
            )
        )
    return v


@dataclass(frozen=True)
class ChosenLore:
    """A lore entry a turn's prompt holds, and the key that brought it in ("" if always-on)."""

    entry: LoreEntry
    matched_key: str
    tokens: int


class LoreMatcher:
    """The lore of one session at one revision, indexed for matching. Entries come sorted by
    priority (highest first), then most recently updated."""

    def __init__(self, entries: tuple[LoreEntry, ...]) -> None:
        self.entries = entries
        self.tokens = [estimate_tokens(e.content) for e in entries]
        self.always = [i for i, e in enumerate(entries) if e.always_on]
        self._index: dict[str, list[tuple[tuple[str, ...], int, str]]] = {}
        for i, entry in enumerate(entries):
            if entry.always_on:
                continue
            for key in entry.keys:
                key_words = tuple(words(key))
                if key_words:
                    self._index.setdefault(key_words[0], []).append((key_words, i, key))

    def match(self, texts: Iterable[str]) -> dict[int, str]:
        """Index of each keyed entry whose key appears in the texts -> the first such key."""
        found: dict[int, str] = {}
        index = self._index
        if not index:
            return found
        for text in texts:
            ws = words(text)
            for j, word in enumerate(ws):
                candidates = index.get(word)
                if candidates is None:
                    continue
                for key_words, i, key in candidates:
                    if i in found:
                        continue
                    n = len(key_words)
                    if n == 1 or tuple(ws[j : j + n]) == key_words:
                        found[i] = key
        return found

    def choose(
        self, texts: Iterable[str], budget: int
    ) -> tuple[list[ChosenLore], list[ChosenLore]]:
        """(always-on, keyed) entries within `budget` tokens: always-on first, then keyed ones
        whose key matched, each group by priority then recency; an entry that does not fit
        is skipped and smaller ones after it may still fit."""
        matched = self.match(texts)
        always: list[ChosenLore] = []
        keyed: list[ChosenLore] = []
        left = budget
        for group, out in ((self.always, always), (sorted(matched), keyed)):
            for i in group:
                cost = self.tokens[i]
                if cost <= left:
                    left -= cost
                    out.append(ChosenLore(self.entries[i], matched.get(i, ""), cost))
        return always, keyed


class MatcherCache:
    """One compiled matcher per session, for its current lore revision (least recently used
    sessions are dropped past `size`)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._cache: OrderedDict[str, tuple[int, LoreMatcher]] = OrderedDict()

    def revision(self, session_id: str) -> int:
        """The revision cached for the session (-1: none)."""
        cached = self._cache.get(session_id)
        return cached[0] if cached else -1

    def get(
        self, session_id: str, revision: int, lore: tuple[LoreEntry, ...] | None
    ) -> LoreMatcher | None:
        """The matcher for `revision`: the cached one when `lore` is None (still current);
        None when that one is no longer cached (read the lore again)."""
        cached = self._cache.get(session_id)
        if lore is None:
            if cached is None or cached[0] != revision:
                return None
            self._cache.move_to_end(session_id)
            return cached[1]
        matcher = LoreMatcher(lore or ())
        self._cache[session_id] = (revision, matcher)
        self._cache.move_to_end(session_id)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return matcher

    def forget(self, session_id: str) -> None:
        self._cache.pop(session_id, None)
