"""The local moderation filter: word lists per category and rating (`lexicon_words.py`), one
compiled matcher, no network.

Text is normalized first: lower case, accents and full-width forms folded, common look-alike
letters (Cyrillic, Greek) mapped to Latin, leetspeak undone where a digit or symbol touches a
letter ("sh1t", "$hit"), and letters spelled apart rejoined ("f.u.c.k", "f u c k"). The
matcher is one regular expression: each list is a trie of its terms (shared prefixes
factored, so a position fails fast), every letter may repeat, and terms match whole words
only. Allowed phrases (fiction and idiom) are blanked out before it runs.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.moderation import Verdict
from . import lexicon_words as words

if TYPE_CHECKING:
    from ..core.models import ContentRating
    from ..core.moderation import Direction

_SEPARATOR = r"[\s_-]+"
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic and Greek letters that look Latin (after case folding).
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
        "һ": "h", "ԁ": "d", "ӏ": "l", "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k",
        "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
        # Latin letters that do not decompose.
        "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "ı": "i", "þ": "th", "ð": "d",
    }
)  # fmt: skip
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LEET_MAP = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a",
             "$": "s", "!": "i", "|": "l"}  # fmt: skip
_LEET_HINT = re.compile(r"[0134578@$!|]")
# A leet character counts as a letter where it touches one ("!" and "|" only before one, so
# that "shit!" stays "shit").
_LEET = re.compile(r"(?<=[a-z])[0134578@$]|[0134578@$!|](?=[a-z])")
_SPELLED_HINT = re.compile(r"[._*-][a-z][._*-]| [a-z] [a-z] ")
_SPELLED = re.compile(
    r"(?<![a-z])(?:[a-z][._*-]){2,}[a-z](?![a-z])|(?<![a-z])(?:[a-z] ){3,}[a-z](?![a-z])"
)
_SPELLING = re.compile(r"[ ._*-]")
WORD_START = r"(?<![a-z0-9])"


def normalize(text: str) -> str:
    """`text` as the matcher reads it (its length may change)."""
    t = text.casefold()
    if not t.isascii():
        t = unicodedata.normalize("NFKD", t.translate(_CONFUSABLES))
        t = _NON_ASCII.sub(" ", _MARKS.sub("", t))
    if _LEET_HINT.search(t):
        t = _LEET.sub(lambda m: _LEET_MAP[m.group()], t)
    if _SPELLED_HINT.search(t):
        t = _SPELLED.sub(lambda m: _SPELLING.sub("", m.group()), t)
    return t


def _units(term: str, repeats: bool) -> list[str]:
    """A term as regex pieces. The first is its first letter, then the check that no letter
    or digit comes before it: every alternative of the matcher starts with a literal, which
    the regex engine tests at once. Letters may repeat; phrases take any separator; a `*`
    takes any ending."""
    units: list[str] = []
    for i, word in enumerate(term.rstrip("*").split("_")):
        if i:
            units.append(_SEPARATOR)
        for ch in word:
            unit = re.escape(ch)
            if not units:
                unit += f"(?<![a-z0-9]{unit})"
            units.append(unit + (f"{re.escape(ch)}*" if repeats and ch.isalpha() else ""))
    if term.endswith("*"):
        units.append("[a-z]*")
    return units


class _Trie:
    """Terms as one regex, their shared prefixes factored. With tags, each term ends in an
    empty group: the match's `lastindex` names its tag (`tags[lastindex - 1]`)."""

    def __init__(self, repeats: bool = True) -> None:
        self._root: dict[str, dict] = {}  # type: ignore[type-arg]
        self._repeats = repeats
        self.tags: list[str] = []

    def add(self, term: str, tag: str = "") -> None:
        node = self._root
        for unit in _units(term, self._repeats):
            node = node.setdefault(unit, {})
        node.setdefault("\0" + tag, {})

    def pattern(self, extra: tuple[tuple[str, str], ...] = ()) -> str:
        """The regex: whole words only. `extra`: (pattern, tag) alternatives added as is."""
        self.tags = []
        branches = [self._emit(self._root)]
        for raw, tag in extra:
            branches.append(f"(?:{raw})()")
            self.tags.append(tag)
        return f"(?:{'|'.join(branches)})(?![a-z0-9])"

    def _emit(self, node: dict[str, dict]) -> str:  # type: ignore[type-arg]
        branches = []
        for unit, child in node.items():
            if unit.startswith("\0"):
                if unit == "\0":
                    branches.append("")
                else:
                    self.tags.append(unit[1:])
                    branches.append("()")
            else:
                branches.append(unit + self._emit(child))
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


@dataclass(frozen=True)
class _Match:
    tag: str
    start: int
    end: int


class Lexicon:
    """The compiled word lists."""

    def __init__(
        self,
        terms: tuple[words.Terms, ...] = words.TERMS,
        pairs: tuple[words.Pair, ...] = words.PAIRS,
        allowed: str = words.ALLOWED,
    ) -> None:
        trie = _Trie()
        for entry in terms:
            for term in entry.words.split():
                trie.add(term, entry.tag)
        # Every alternative starts a word (the trie's first letters and MINOR_AGES say so
        # themselves): said once in front, the regex engine gives up at once at each letter
        # within a word instead of trying the alternation there (half the matcher's time).
        self._matcher = re.compile(WORD_START + trie.pattern(((words.MINOR_AGES, "minor"),)))
        self._tags = trie.tags
        allowed_trie = _Trie(repeats=False)
        for term in allowed.split():
            allowed_trie.add(term)
        self._allowed = re.compile(allowed_trie.pattern())
        self._terms = {t.tag: (rank, t) for rank, t in enumerate(terms)}
        self._pairs = pairs

    def matches(self, text: str) -> list[_Match]:
        """Every list term in normalized `text` (allowed phrases left out)."""
        text = self._allowed.sub(lambda m: " " * len(m.group()), text)
        tags = self._tags
        return [_Match(tags[(m.lastindex or 1) - 1], m.start(), m.end())
                for m in self._matcher.finditer(text)]  # fmt: skip

    def refused(self, text: str, rating: ContentRating, context: str = "") -> str:
        """The category `text` is refused for at `rating` ("" when it is allowed). Terms in
        `context` alone never refuse it; a pair it completes does."""
        before = normalize(context) if context else ""
        found = self.matches(before + normalize(text))
        if not found:
            return ""
        edge = len(before)
        best: tuple[float, str] | None = None
        for m in found:
            rank, entry = self._terms[m.tag]
            if m.end > edge and rating in entry.refused_at and (best is None or rank < best[0]):
                best = (rank, entry.category)
        for pair in self._pairs:
            if rating in pair.refused_at and _paired(found, pair, edge):
                pair_rank = words.PAIR_RANK[pair.category] - 0.5
                if best is None or pair_rank < best[0]:
                    best = (pair_rank, pair.category)
        return best[1] if best else ""


def _paired(found: list[_Match], pair: words.Pair, edge: int) -> bool:
    """A term of `first` within PAIR_SPAN of one of `second`, one of them past `edge`.
    Matches come in order of position: each first looks up its neighbours by bisection, so a
    text full of both is still checked in O(n log n)."""
    firsts = [m for m in found if m.tag in pair.first]
    seconds = [m for m in found if m.tag in pair.second] if firsts else []
    if not seconds:
        return False
    starts = [b.start for b in seconds]
    for a in firsts:
        lo = bisect.bisect_left(starts, a.start - words.PAIR_SPAN)
        hi = bisect.bisect_right(starts, a.start + words.PAIR_SPAN)
        # Within the span, the last second ends last: past the edge if any does.
        if lo < hi and max(a.end, seconds[hi - 1].end) > edge:
            return True
    return False


@functools.cache
def default_lexicon() -> Lexicon:
    return Lexicon()


_ALLOWED = Verdict(source="local")


class LexiconModerator:
    """The `Moderator` with no network: the lexicon decides, in microseconds."""

    name = "local"
    instant = True

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self._lexicon = lexicon or default_lexicon()

    async def check(
        self, text: str, rating: ContentRating, direction: Direction, context: str = ""
    ) -> Verdict:
        category = self._lexicon.refused(text, rating, context)
        return Verdict(category, "local") if category else _ALLOWED
