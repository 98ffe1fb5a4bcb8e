"""Request checks. Each returns the field violations it found; callers raise them together."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import FieldViolation, InvalidArgument
from .schema_limits import LIMITS as SCHEMA_LIMITS
from .schema_limits import SchemaProblem
from .schema_tasks import parse
from .schema_work import SchemaWork

if TYPE_CHECKING:
    from .models import DecisionOption, PlayerCharacter, Scene, Setting

OPTION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_ID_RULE = "must be 1-64 letters, digits, '_', '-', '.' or ':'"


@dataclass(frozen=True)
class Limits:
    """Size limits of requests, from settings."""

    max_input_chars: int = 4000
    max_text_chars: int = 4000
    max_scene_items: int = 64
    max_options: int = 32


def _text(field: str, value: str, limit: int, *, required: bool) -> list[FieldViolation]:
    if required and not value.strip():
        return [FieldViolation(field, "must not be empty")]
    if len(value) > limit:
        return [FieldViolation(field, f"is {len(value)} characters; the limit is {limit}")]
    return []


def check_session_id(session_id: str) -> list[FieldViolation]:
    return _text("session_id", session_id, 128, required=True)


def check_new_session(setting: Setting, player: PlayerCharacter, limits: Limits) -> None:
    v = _text("setting.world", setting.world, limits.max_text_chars, required=True)
    v += _text("setting.tone", setting.tone, 200, required=False)
    v += _text("player.name", player.name, 200, required=True)
    v += _text("player.description", player.description, limits.max_text_chars, required=False)
    if v:
        raise InvalidArgument(v)


def check_scene(scene: Scene, limits: Limits) -> list[FieldViolation]:
    v = _text("scene.location", scene.location, limits.max_text_chars, required=False)
    n = limits.max_scene_items
    for name, size in (
        ("scene.characters", len(scene.characters)),
        ("scene.facts", len(scene.facts)),
        ("scene.attributes", len(scene.attributes)),
    ):
        if size > n:
            v.append(FieldViolation(name, f"has {size} entries; the limit is {n}"))
    if v and any(f.field != "scene.location" for f in v):
        return v  # an over-long list is not looked into: its size alone is the answer
    for i, c in enumerate(scene.characters):
        v += _text(f"scene.characters[{i}].name", c.name, 200, required=True)
        v += _text(f"scene.characters[{i}].description", c.description, 1000, required=False)
        v += _text(f"scene.characters[{i}].disposition", c.disposition, 200, required=False)
        v += _text(f"scene.characters[{i}].pronouns", c.pronouns, 64, required=False)
    for i, fact in enumerate(scene.facts):
        v += _text(f"scene.facts[{i}]", fact, 1000, required=True)
    for key, value in scene.attributes:
        v += _text(f"scene.attributes[{key[:40]}]", key + value, 1000, required=False)
    return v


def check_turn_id(turn_id: str) -> list[FieldViolation]:
    if turn_id and not OPTION_ID.match(turn_id):
        return [FieldViolation("turn_id", _ID_RULE)]
    return []


def check_narrate(
    session_id: str, action: str, scene: Scene, limits: Limits, turn_id: str = ""
) -> None:
    v = check_session_id(session_id) + check_turn_id(turn_id)
    v += _text("action", action, limits.max_input_chars, required=True)
    v += check_scene(scene, limits)
    if v:
        raise InvalidArgument(v)


def check_options(
    options: tuple[DecisionOption, ...], default_option_id: str, limits: Limits
) -> list[FieldViolation]:
    """What can be checked without parsing a schema: count, ids, and text sizes."""
    if not options:
        return [FieldViolation("options", "at least one option is required")]
    if len(options) > limits.max_options:
        # Nothing of an over-long list is looked at: its size alone is the answer.
        return [FieldViolation("options", f"has {len(options)}; the limit is {limits.max_options}")]
    v: list[FieldViolation] = []
    seen: set[str] = set()
    for i, option in enumerate(options):
        if not OPTION_ID.match(option.id):
            v.append(FieldViolation(f"options[{i}].id", _ID_RULE))
        elif option.id in seen:
            v.append(FieldViolation(f"options[{i}].id", f"duplicates option id {option.id!r}"))
        seen.add(option.id)
        v += _text(f"options[{i}].description", option.description, 1000, required=False)
        v += _text(f"options[{i}].arguments_schema", option.arguments_schema,
                   SCHEMA_LIMITS.max_chars, required=False)  # fmt: skip
    total = sum(len(o.arguments_schema) for o in options)
    if total > SCHEMA_LIMITS.max_total_chars:
        v.append(FieldViolation("options", f"their arguments schemas total {total} characters; "
                                f"the limit is {SCHEMA_LIMITS.max_total_chars}"))  # fmt: skip
    if default_option_id and default_option_id not in seen:
        v.append(FieldViolation("default_option_id", "must be one of the option ids"))
    return v


async def check_decide(
    session_id: str,
    question: str,
    options: tuple[DecisionOption, ...],
    default_option_id: str,
    scene: Scene,
    limits: Limits,
    turn_id: str = "",
    work: SchemaWork | None = None,
) -> dict[str, dict[str, Any] | None]:
    """Validates a Decide request; returns each option's parsed arguments schema. Sizes are
    checked first; only then are the schemas parsed and checked, off the event loop."""
    v = check_session_id(session_id) + check_turn_id(turn_id)
    v += _text("question", question, limits.max_input_chars, required=True)
    v += check_options(options, default_option_id, limits)
    v += check_scene(scene, limits)
    if v:
        raise InvalidArgument(v)
    default = default_option_id or options[0].id
    with_schema = [(i, o) for i, o in enumerate(options) if o.arguments_schema.strip()]
    reports = await (work or SchemaWork()).check_options(
        [(o.arguments_schema, o.id == default) for _, o in with_schema]
    )
    schemas: dict[str, dict[str, Any] | None] = {o.id: None for o in options}
    for (i, option), report in zip(with_schema, reports, strict=True):
        if report.problem:
            v.append(FieldViolation(f"options[{i}].arguments_schema", report.problem))
        schemas[option.id] = report.schema
    if v:
        raise InvalidArgument(v)
    return schemas


def option_schemas(options: tuple[DecisionOption, ...]) -> dict[str, dict[str, Any] | None]:
    """The argument schemas of options that were validated before (a stored turn's): parsed
    only (they passed every check on arrival); one that no longer parses counts as none."""
    out: dict[str, dict[str, Any] | None] = {}
    for option in options:
        schema = None
        if (
            option.arguments_schema.strip()
            and len(option.arguments_schema) <= SCHEMA_LIMITS.max_chars
        ):
            with contextlib.suppress(SchemaProblem):
                parsed = parse(option.arguments_schema)
                schema = parsed if isinstance(parsed, dict) else None
        out[option.id] = schema
    return out
