"""The prompt budget's hard floor: a turn whose mandatory parts (instructions, campaign, scene,
input and options) alone pass NARRATOR_PROMPT_TOKENS is refused before any upstream call,
naming the largest fields to trim."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import FieldViolation, InvalidArgument
from .models import TurnKind
from .prompt import estimate_tokens

if TYPE_CHECKING:
    from .models import DecisionOption, Scene, Session

MAX_NAMED = 5


def _fields(
    session: Session, kind: TurnKind, text: str, scene: Scene, options: tuple[DecisionOption, ...]
) -> list[tuple[str, int]]:
    """The client-written fields of the mandatory part, with their estimated tokens."""
    out = [
        ("action" if kind is TurnKind.NARRATION else "question", estimate_tokens(text)),
        ("scene.location", estimate_tokens(scene.location)),
        ("session.setting.world", estimate_tokens(session.setting.world)),
        ("session.player.description", estimate_tokens(session.player.description)),
    ]
    for i, c in enumerate(scene.characters):
        size = estimate_tokens(c.name + c.description + c.disposition)
        out.append((f"scene.characters[{i}]", size))
    out += [(f"scene.facts[{i}]", estimate_tokens(f)) for i, f in enumerate(scene.facts)]
    out += [(f"scene.attributes[{k[:40]}]", estimate_tokens(k + v)) for k, v in scene.attributes]
    for i, o in enumerate(options):
        out.append((f"options[{i}].description", estimate_tokens(o.description)))
        if o.arguments_schema:
            out.append((f"options[{i}].arguments_schema", estimate_tokens(o.arguments_schema)))
    return out


def check_mandatory(
    mandatory_tokens: int,
    budget: int,
    session: Session,
    kind: TurnKind,
    text: str,
    scene: Scene,
    options: tuple[DecisionOption, ...],
) -> None:
    """Raises InvalidArgument when the mandatory part is over `budget`: one violation for each
    of the largest fields that, trimmed, would bring it under (at most MAX_NAMED)."""
    over = mandatory_tokens - budget
    if over <= 0:
        return
    fields = sorted(_fields(session, kind, text, scene, options), key=lambda f: -f[1])
    violations: list[FieldViolation] = []
    covered = 0
    for name, tokens in fields[:MAX_NAMED]:
        violations.append(
            FieldViolation(
                name,
                f"is about {tokens} tokens; the turn's mandatory prompt (instructions, campaign, "
                f"scene, input) is about {mandatory_tokens} tokens, {over} over the prompt "
                f"budget of {budget} (NARRATOR_PROMPT_TOKENS): shorten this field",
            )
        )
        covered += tokens
        if covered >= over:
            break
    raise InvalidArgument(violations)
