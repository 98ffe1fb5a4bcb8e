"""A turn's prompt as sections, fitted in one total budget with a budget per kind.

The mandatory part (instructions, campaign, scene, input) must fit the total or the turn is
refused. What is left goes to the summary, then the lore (always-on entries first, then the
keyed ones this turn brings up), then as many recent turns as fit the history budget. A pure
function of its inputs: the same memory gives the same prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .identity_memo import IdentityMemo
from .memory_models import Section, SectionKind
from .models import TurnKind
from .ports import ChatMessage
from .prompt import (
    campaign_brief,
    describe_scene,
    estimate_tokens,
    history_text,
    history_texts,
    input_text,
    system_text,
)
from .prompt_budget import check_mandatory

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .lore import ChosenLore, LoreMatcher
    from .memory_models import Summary
    from .models import DecisionOption, Scene, Session, Turn


# The least a summary can cost (`estimate_tokens` of one word): a smaller budget holds none.
MIN_SUMMARY_TOKENS = 5


@dataclass(frozen=True)
class Budgets:
    """Token budgets of the prompt (estimated tokens), from settings."""

    prompt: int = 12_000
    history: int = 3000
    lore: int = 1000
    summary: int = 500
    # At most this many recent turns in the history window; the last few are also scanned
    # for lore keys.
    history_max_turns: int = 50
    lore_scan_turns: int = 3


@dataclass(frozen=True)
class Assembled:
    sections: tuple[Section, ...]
    # The turns the history section holds, oldest first.
    window: tuple[Turn, ...]
    # The session's completed, current turns before this one that were read, newest first.
    recent: tuple[Turn, ...] = ()
    # Each window turn's chat messages (input, what was said), by turn id: the prompt's
    # messages (`prompt.messages_of`) take them as they are.
    history: Mapping[str, tuple[ChatMessage, ChatMessage]] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryEntry:
    """An earlier turn as the prompt holds it: its section and its two chat messages."""

    section: Section
    messages: tuple[ChatMessage, ChatMessage]


def _history_entry(turn: Turn) -> HistoryEntry:
    asked, said = history_texts(turn)
    cost = estimate_tokens(asked) + estimate_tokens(said)
    text = history_text(asked, said)
    section = Section(SectionKind.HISTORY, f"turn {turn.turn_id}", text, cost, turn_id=turn.turn_id)
    return HistoryEntry(section, (ChatMessage("user", asked), ChatMessage("assistant", said)))


# A window turn is the same object from one turn to the next (the stores keep it decoded): its
# entry is worked out when it enters the window, not once per prompt. What an entry holds is
# about twice its turn's text; the budget is in characters.
HISTORY_MEMO_CHARS = 2_000_000
history_entry = IdentityMemo(
    _history_entry,
    lambda turn, entry: len(turn.text) + len(entry.section.text) + len(turn.input),
    HISTORY_MEMO_CHARS,
)


def _section(kind: SectionKind, title: str, text: str, **extra: str) -> Section:
    return Section(kind, title, text, estimate_tokens(text), **extra)


def _cut(text: str, tokens: int) -> str:
    """The text cut to about `tokens` (at a word), when it is longer."""
    chars = max(0, (tokens - 4) * 4)
    if len(text) <= chars:
        return text
    cut = text[: max(0, chars - 1)].rsplit(" ", 1)[0]
    return cut + "…"


def _lore_section(chosen: ChosenLore) -> Section:
    entry = chosen.entry
    label = chosen.matched_key or (entry.keys[0] if entry.keys else "always-on")
    return Section(
        SectionKind.LORE,
        f"lore: {label}",
        entry.content,
        chosen.tokens,
        lore_entry_id=entry.entry_id,
        matched_key=chosen.matched_key,
    )


def assemble(
    session: Session,
    kind: TurnKind,
    text: str,
    scene: Scene,
    options: tuple[DecisionOption, ...],
    recent: list[Turn],
    summary: Summary | None,
    matcher: LoreMatcher,
    budgets: Budgets,
) -> Assembled:
    """The prompt's sections in prompt order. `recent`: completed, current turns, newest
    first (without the turn itself or the one it replaces). Raises InvalidArgument when the
    mandatory part is over the total budget."""
    scene_text = describe_scene(scene)
    system = _section(SectionKind.SYSTEM, "system", system_text(session))
    campaign = _section(SectionKind.CAMPAIGN, "campaign", campaign_brief(session))
    where = scene.location[:60] or "no location"
    scene_section = _section(SectionKind.SCENE, f"scene: {where}", scene_text)
    title = "action" if kind is TurnKind.NARRATION else "question"
    turn_input = _section(SectionKind.INPUT, title, input_text(kind, text, options))
    mandatory = system.tokens + campaign.tokens + scene_section.tokens + turn_input.tokens
    check_mandatory(mandatory, budgets.prompt, session, kind, text, scene, options)
    left = budgets.prompt - mandatory

    head: list[Section] = [system, campaign]
    if summary is not None and summary.text and min(budgets.summary, left) >= MIN_SUMMARY_TOKENS:
        summary_text = _cut(summary.text, min(budgets.summary, left))
        head.append(
            _section(
                SectionKind.SUMMARY,
                f"summary of {summary.turn_count} earlier turns",
                summary_text,
                turn_id=summary.last_turn_id,
            )
        )
        left -= head[-1].tokens

    scanned = [text, scene_text]
    for turn in recent[: budgets.lore_scan_turns]:
        scanned += [turn.input, turn.text]
    always, keyed = matcher.choose(scanned, min(budgets.lore, left))
    head += [_lore_section(c) for c in always]
    left -= sum(c.tokens for c in always) + sum(c.tokens for c in keyed)

    history_left = min(budgets.history, left)
    window: list[Turn] = []
    history: list[Section] = []
    messages: dict[str, tuple[ChatMessage, ChatMessage]] = {}
    for turn in recent[: budgets.history_max_turns]:
        entry = history_entry(turn)
        cost = entry.section.tokens
        if cost > history_left:
            break
        history_left -= cost
        window.append(turn)
        messages[turn.turn_id] = entry.messages
        history.append(entry.section)
    history.reverse()
    window.reverse()
    tail = [*(_lore_section(c) for c in keyed), scene_section, turn_input]
    return Assembled((*head, *history, *tail), tuple(window), tuple(recent), messages)
