"""Request checks, decision answers and arguments built from schemas."""

from __future__ import annotations

import jsonschema
import pytest

from narrator_server.core.decisions import Choice, DecisionRules
from narrator_server.core.models import Scene
from narrator_server.core.schema_args import example_for
from narrator_server.core.validation import parse_arguments_schema

SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "string", "minLength": 3}}, "required": ["a"]},
    {"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 5}}, "required": ["n"]},
    {"type": "object", "properties": {"e": {"enum": ["x", "y"]}, "b": {"type": "boolean"}}, "required": ["e", "b"]},
    {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "integer"}, "minItems": 2}}, "required": ["l"]},
    {"type": "object", "properties": {"o": {"type": "object", "properties": {"c": {"const": 4}}, "required": ["c"]}}, "required": ["o"]},
    {"type": "object", "properties": {"t": {"type": ["null", "string"]}}, "required": ["t"]},
]  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS)
def test_examples_are_valid(schema: dict[str, object]) -> None:
    jsonschema.validate(example_for(schema), schema)


def test_examples_use_the_scene() -> None:
    schema = {
        "type": "object",
        "properties": {"target": {"type": "string"}, "destination": {"type": "string"}},
        "required": ["target", "destination"],
    }
    got = example_for(schema, characters=("Grub",), location="the crypt")
    assert got == {"target": "Grub", "destination": "the crypt"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", None),
        ('{"type": "object"}', None),
        ("{", "is not JSON"),
        ("[]", "must be a JSON schema object"),
        ('{"type": 12}', "is not a valid JSON schema"),
        ('{"type": "array"}', "must describe an object"),
    ],
)
def test_arguments_schema_checks(text: str, problem: str | None) -> None:
    _, found = parse_arguments_schema(text)
    if problem is None:
        assert found is None
    else:
        assert problem in (found or "")


async def test_rules_check_answers() -> None:
    rules = DecisionRules({"a": SCHEMAS[0], "b": None}, "b")
    assert await rules.check('{"decision": {"option_id": "b", "arguments": {}}}') == Choice("b", {})
    assert "not one of" in str(await rules.check('{"decision": {"option_id": "c"}}'))
    assert "too short" in str(
        await rules.check('{"decision": {"option_id": "a", "arguments": {"a": "x"}}}')
    )
    assert (await rules.fallback(Scene())).option_id == "b"
