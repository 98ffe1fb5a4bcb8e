"""The offline summarizer: folds turns into a campaign summary without a model.

It keeps what a story needs later: promises (sentences with a vow, a deal, a debt), the
people and places named, and the items the player acted on. Its summary is a few labelled
lines that it reads back when it folds the next turns, so nothing is lost between folds;
past the budget each line keeps its share, losing its oldest entries first.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .prompt import estimate_tokens

if TYPE_CHECKING:
    from .models import Turn

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_PROMISE = re.compile(
    r"\b(promis\w*|swear\w*|swore|sworn|vow\w*|oath|owe\w*|debt|deal|bargain\w*|pledg\w*|"
    r"agree\w*|will return|bound to|(?:give|gave|given)\s+(?:\w+\s+)?word)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][\w'-]+(?:\s+(?:of\s+|the\s+)?[A-Z][\w'-]+)*")
_ITEM = re.compile(
    r"\b(?:the|a|an|my|your|his|her|their|this|that)\s+([a-z][\w'-]*(?:\s+[a-z][\w'-]*){0,2}?)"
    r"(?=\s+(?:of|off|on|in|into|at|to|from|with|behind|under|over|for|and|beneath)\b|[.,;!?]|$)"
)
_NOT_NAMES = {
    "the", "you", "your", "a", "an", "i", "it", "he", "she", "they", "we", "his", "her",
    "their", "this", "that", "there", "then", "when", "what", "who", "as", "at", "in", "on",
    "but", "and", "or", "if", "so", "with", "from", "to", "for", "no", "not", "yes", "now",
    "player", "decision", "chosen", "scene", "fact", "present", "location",
}  # fmt: skip
LABELS = ("Promises", "People", "Places", "Items", "Earlier")
# Each line's share of the budget: when the text is too long, the line furthest over its
# share loses its oldest entry, so no kind of memory crowds the others out.
_SHARES = {"Promises": 0.55, "People": 0.18, "Places": 0.07, "Items": 0.15, "Earlier": 0.05}
_SEPARATOR = {"Promises": " | ", "Earlier": " "}


_WORDS = re.compile(r"[a-z']+")


def _content(text: str) -> set[str]:
    """The words that carry a sentence's meaning (a crude stem: the first 5 letters)."""
    return {w[:5] for w in _WORDS.findall(text.lower()) if len(w) > 3 and w not in _NOT_NAMES}


def _restates(sentence: str, known: list[set[str]]) -> bool:
    """Whether a clause of a narration's sentence mostly repeats the player's action or a
    promise already kept (the narrator retelling it): each promise is kept once, in the
    player's words."""
    for clause in re.split(r"[:;,]", sentence):
        words = _content(clause)
        if words and any(len(words & other) * 2 >= len(words) for other in known):
            return True
    return False


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _names(text: str) -> list[str]:
    out = []
    for match in _NAME.finditer(text):
        name = match.group(0)
        start = match.start()
        before = text[:start].rstrip()
        sentence_start = not before or before[-1] in ".!?\n\"'“"
        if name.split()[0].lower() in _NOT_NAMES:
            continue
        if sentence_start and " " not in name:
            continue  # a capitalised first word is no evidence of a name
        out.append(name)
    return out


def parse(summary: str) -> dict[str, list[str]]:
    """The labelled lines of an offline summary; any other text is kept as `Earlier`."""
    lines: dict[str, list[str]] = {label: [] for label in LABELS}
    other = []
    for line in summary.splitlines():
        label, _, rest = line.partition(": ")
        if label == "Earlier" and rest:
            other.append(rest.strip())
        elif label in lines and rest:
            lines[label] += [x for x in rest.split(_SEPARATOR.get(label, ", ")) if x]
        elif line.strip():
            other.append(line.strip())
    if other:
        lines["Earlier"] = [" ".join(other)]
    return lines


def _add(items: list[str], new: str) -> None:
    """Appends (newest last), moving an item already present to the end."""
    folded = new.casefold()
    for i, old in enumerate(items):
        if old.casefold() == folded:
            del items[i]
            break
    items.append(new)


def render(lines: dict[str, list[str]]) -> str:
    return "\n".join(
        f"{label}: {_SEPARATOR.get(label, ', ').join(items)}"
        for label, items in lines.items()
        if items
    )


def fold(previous: str, turns: list[Turn], budget_tokens: int) -> str:
    """The summary `previous` extended with `turns` (oldest first), within the budget."""
    lines = parse(previous)
    for turn in turns:
        for place in (turn.scene.location,):
            if place:
                _add(lines["Places"], place.strip()[:80])
        for character in turn.scene.characters:
            _add(lines["People"], character.name.strip()[:60])
        for text in (turn.input, turn.text):
            for sentence in _sentences(text):
                if not _PROMISE.search(sentence):
                    continue
                known = [_content(turn.input), *map(_content, lines["Promises"])]
                if text is turn.input or not _restates(sentence, known):
                    _add(lines["Promises"], sentence.replace("|", "/")[:200])
            for name in _names(text):
                _add(lines["People"], name[:60])
        for match in _ITEM.finditer(turn.input.lower()):
            _add(lines["Items"], match.group(1)[:60])
    return _fit(lines, budget_tokens)


def _fit(lines: dict[str, list[str]], budget_tokens: int) -> str:
    """Drops the oldest entries of the lines most over their share until the text fits."""
    text = render(lines)
    while estimate_tokens(text) > budget_tokens:
        used = {k: sum(len(x) + 2 for x in v) for k, v in lines.items() if v}
        label = max(used, key=lambda k: used[k] / _SHARES[k])
        items = lines[label]
        if label == "Earlier":  # free prose: its oldest words go first
            words = items[0].split()
            rest = words[max(1, len(words) // 4) :]
            items[:] = [" ".join(rest)] if rest else []
        else:
            items.pop(0)
        text = render(lines)
    return text
