"""Request checks. Each returns the field violations it found; callers raise them together."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsonschema

from .errors import FieldViolation, InvalidArgument
from .schema_args import example_for

if TYPE_CHECKING:
    from .models import DecisionOption, PlayerCharacter, Scene, Setting

OPTION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


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
        return [FieldViolation("turn_id", "must be 1-64 letters, digits, '_', '-', '.' or ':'")]
    return []


def check_narrate(
    session_id: str, action: str, scene: Scene, limits: Limits, turn_id: str = ""
) -> None:
    v = check_session_id(session_id) + check_turn_id(turn_id)
    v += _text("action", action, limits.max_input_chars, required=True)
    v += check_scene(scene, limits)
    if v:
        raise InvalidArgument(v)


def parse_arguments_schema(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The option's schema as a dict, or the reason it is not a JSON schema for an object."""
    if not text.strip():
        return None, None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"is not JSON ({e.msg} at position {e.pos})"
    if not isinstance(schema, dict):
        return None, "must be a JSON schema object"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        return None, f"is not a valid JSON schema: {e.message}"
    if schema.get("type", "object") != "object":
        return None, 'must describe an object ("type": "object"): arguments are a JSON object'
    return schema, None


def _check_fallback(
    options: tuple[DecisionOption, ...],
    fallback_id: str,
    schemas: dict[str, dict[str, Any] | None],
) -> list[FieldViolation]:
    """The fallback option must take arguments the server can build, so that a decision is
    always valid even when no model answers."""
    schema = schemas[fallback_id]
    if not schema:
        return []
    errors = jsonschema.validators.validator_for(schema)(schema).iter_errors(example_for(schema))
    if next(errors, None) is None:
        return []
    i = next(i for i, o in enumerate(options) if o.id == fallback_id)
    return [
        FieldViolation(
            f"options[{i}].arguments_schema",
            "the server cannot build valid fallback arguments for the default option from "
            'this schema; give its required properties a "default"',
        )
    ]


async def check_decide(
    session_id: str,
    question: str,
    options: tuple[DecisionOption, ...],
    default_option_id: str,
    scene: Scene,
    limits: Limits,
    turn_id: str = "",
) -> dict[str, dict[str, Any] | None]:
    """Validates a Decide request; returns each option's parsed arguments schema."""
    v = check_session_id(session_id) + check_turn_id(turn_id)
    v += _text("question", question, limits.max_input_chars, required=True)
    if not options:
        v.append(FieldViolation("options", "at least one option is required"))
    elif len(options) > limits.max_options:
        v.append(
            FieldViolation("options", f"has {len(options)}; the limit is {limits.max_options}")
        )
    schemas: dict[str, dict[str, Any] | None] = {}
    for i, option in enumerate(options):
        if not OPTION_ID.match(option.id):
            v.append(
                FieldViolation(
                    f"options[{i}].id", "must be 1-64 letters, digits, '_', '-', '.' or ':'"
                )
            )
        elif option.id in schemas:
            v.append(FieldViolation(f"options[{i}].id", f"duplicates option id {option.id!r}"))
        v += _text(f"options[{i}].description", option.description, 1000, required=False)
        field = f"options[{i}].arguments_schema"
        schema, problem = parse_arguments_schema(option.arguments_schema)
        if problem:
            v.append(FieldViolation(field, problem))
        schemas.setdefault(option.id, schema)
    if default_option_id and default_option_id not in schemas:
        v.append(FieldViolation("default_option_id", "must be one of the option ids"))
    elif schemas and not v:
        v += _check_fallback(options, default_option_id or options[0].id, schemas)
    v += check_scene(scene, limits)
    if v:
        raise InvalidArgument(v)
    return schemas


def option_schemas(options: tuple[DecisionOption, ...]) -> dict[str, dict[str, Any] | None]:
    """The argument schemas of options that were validated before (a stored turn's)."""
    return {o.id: parse_arguments_schema(o.arguments_schema)[0] for o in options}
