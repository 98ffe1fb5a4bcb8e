"""Request checks, hostile schemas, decision answers and arguments built from schemas."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from narrator_server.core.decisions import Choice, DecisionRules
from narrator_server.core.errors import InvalidArgument
from narrator_server.core.models import Character, DecisionOption, Scene
from narrator_server.core.offload import WorkFailed
from narrator_server.core.schema_args import Unbuildable, example_for
from narrator_server.core.schema_limits import LIMITS
from narrator_server.core.schema_tasks import build_arguments, check_answer, check_option
from narrator_server.core.schema_work import SchemaWork
from narrator_server.core.validation import Limits, check_decide, option_schemas
from narrator_server.testing.hostile import SCHEMAS as HOSTILE

SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "string", "minLength": 3}}, "required": ["a"]},
    {"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 5}}, "required": ["n"]},
    {"type": "object", "properties": {"e": {"enum": ["x", "y"]}, "b": {"type": "boolean"}}, "required": ["e", "b"]},
    {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "integer"}, "minItems": 2}}, "required": ["l"]},
    {"type": "object", "properties": {"o": {"type": "object", "properties": {"c": {"const": 4}}, "required": ["c"]}}, "required": ["o"]},
    {"type": "object", "properties": {"t": {"type": ["null", "string"]}}, "required": ["t"]},
    {"type": "object", "properties": {"i": {"type": "integer", "minimum": 3, "multipleOf": 5, "maximum": 100}}, "required": ["i"]},
    {"type": "object", "properties": {"p": {"prefixItems": [{"type": "string"}, {"type": "boolean"}], "minItems": 2}}, "required": ["p"]},
    {"type": "object", "$defs": {"who": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
     "properties": {"w": {"$ref": "#/$defs/who"}, "x": {"allOf": [{"$ref": "#/$defs/who"}, {"required": ["age"], "properties": {"age": {"type": "integer", "minimum": 1}}}]}},
     "required": ["w", "x"]},
    {"type": "object", "properties": {"a": {"anyOf": [False, {"type": "integer", "exclusiveMaximum": 0}]}}, "required": ["a"]},
    {"type": "object", "properties": {"a": True}, "required": ["a"]},
]  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS)
def test_examples_are_valid(schema: dict[str, object]) -> None:
    jsonschema.validate(example_for(schema), schema)
    assert check_option((json.dumps(schema), True)).problem is None


def test_examples_use_the_scene() -> None:
    schema = {
        "type": "object",
        "properties": {"target": {"type": "string"}, "destination": {"type": "string"}},
        "required": ["target", "destination"],
    }
    got = example_for(schema, characters=("Grub",), location="the crypt")
    assert got == {"target": "Grub", "destination": "the crypt"}


@pytest.mark.parametrize(
    "schema",
    [
        False,
        {"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]},
        {"type": "array", "minItems": 64, "items": {"type": "array", "minItems": 64,
         "items": {"type": "array", "minItems": 64}}},
        {"type": "array", "minItems": 64, "items": {"type": "array", "minItems": 2,
         "items": {"type": "string", "minLength": 1000}}},
    ],
)  # fmt: skip
def test_examples_are_bounded(schema: Any) -> None:
    """An impossible, infinite or huge example is refused, never built."""
    with pytest.raises(Unbuildable):
        example_for(schema)


@pytest.mark.parametrize(
    "name", [n for n, (text, _) in HOSTILE.items() if len(text) <= LIMITS.max_chars]
)
def test_each_hostile_schema_gets_its_verdict(name: str) -> None:
    text, expected = HOSTILE[name]
    report = check_option((text, True))
    if expected is None:
        assert report.problem is None
        assert report.schema is not None
    else:
        assert report.schema is None
        assert expected in str(report.problem)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"type": "object"}', None),
        ("{", "is not JSON"),
        ("[]", "must be a JSON schema object"),
        ('{"type": 12}', "is not a valid JSON schema"),
        ('{"type": "array"}', "must describe an object"),
        ('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}', None),
        ('{"$schema": "http://json-schema.org/draft-07/schema", "type": "object"}', None),
    ],
)
def test_arguments_schema_checks(text: str, problem: str | None) -> None:
    found = check_option((text, False)).problem
    if problem is None:
        assert found is None
    else:
        assert problem in (found or "")


def option(option_id: str, schema: Any = "") -> DecisionOption:
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return DecisionOption(option_id, "x", text)


async def decide(*options: DecisionOption, default: str = "") -> dict[str, Any]:
    return await check_decide("s", "q?", options, default, Scene(), Limits())


async def test_over_limit_requests_are_refused_before_any_schema_is_parsed() -> None:
    """10,000 options (each a hostile schema): one violation, and no schema was looked at
    (a schema that would take seconds to parse is never parsed)."""
    deep = '{"not":' * 40 + "{}" + "}" * 40
    with pytest.raises(InvalidArgument) as caught:
        await decide(*(option(f"o{i}", deep) for i in range(10_000)))
    assert [(v.field, v.description) for v in caught.value.violations] == [
        ("options", "has 10000; the limit is 32")
    ]
    with pytest.raises(InvalidArgument) as caught:
        await decide(option("a", "x" * (LIMITS.max_chars + 1)))
    assert caught.value.violations[0].field == "options[0].arguments_schema"
    big = json.dumps({"type": "object", "description": "x" * (LIMITS.max_chars - 100)})
    with pytest.raises(InvalidArgument) as caught:
        await decide(*(option(f"o{i}", big) for i in range(5)))
    assert [v.field for v in caught.value.violations] == ["options"]
    assert "total" in caught.value.violations[0].description


async def test_every_bad_schema_of_a_request_is_reported() -> None:
    with pytest.raises(InvalidArgument) as caught:
        await decide(option("a", '{"$ref": "#"}'), option("b"), option("c", '{"type": "array"}'))
    assert [v.field for v in caught.value.violations] == [
        "options[0].arguments_schema",
        "options[2].arguments_schema",
    ]


async def test_the_default_option_must_have_buildable_arguments() -> None:
    coded = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}},
             "required": ["code"]}  # fmt: skip
    with pytest.raises(InvalidArgument) as caught:
        await decide(option("a", coded), option("b"))
    assert "fallback arguments" in caught.value.violations[0].description
    schemas = await decide(option("a", coded), option("b"), default="b")
    assert schemas == {"a": coded, "b": None}
    assert option_schemas((option("a", coded), option("b"))) == schemas


async def test_rules_check_answers() -> None:
    rules = DecisionRules({"a": SCHEMAS[0], "b": None}, "b")
    assert await rules.check('{"decision": {"option_id": "b", "arguments": {}}}') == Choice("b", {})
    assert "not one of" in str(await rules.check('{"decision": {"option_id": "c"}}'))
    assert "too short" in str(
        await rules.check('{"decision": {"option_id": "a", "arguments": {"a": "x"}}}')
    )
    assert (await rules.fallback(Scene())).option_id == "b"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("[" * 5000 + "]" * 5000, "not valid JSON"),
        ('{"decision": {"option_id": "a", "arguments": {"a": "\\ud800ab"}}}', "lone surrogate"),
        ('{"decision": {"option_id": "a", "arguments": {"a": NaN}}}', "not valid JSON"),
        ('{"decision": {"option_id": "a", "arguments": {"a": "' + "y" * 70_000 + '"}}}', "longer than"),
        ('{"decision": {"option_id": ["a"]}}', "not one of"),
        ('{"decision": {"option_id": "p", "arguments": {"n": "' + "a" * 5000 + '!"}}}', "does not match"),
        ('{"decision": {"option_id": "m", "arguments": {"n": ' + "9" * 4000 + "}}}", "could not be checked"),
    ],
)  # fmt: skip
def test_hostile_answers_are_invalid_never_errors(raw: str, problem: str) -> None:
    schemas = {
        "a": SCHEMAS[0],
        "p": {"type": "object", "properties": {"n": {"type": "string", "pattern": "^(a+)+$"}}},
        "m": {"type": "object", "properties": {"n": {"multipleOf": 0.5}}},
    }
    result = check_answer((schemas, raw))
    assert isinstance(result, str)
    assert problem in result


def test_arguments_use_the_scene_only_when_valid() -> None:
    schema = {"type": "object", "properties": {"target": {"type": "string", "not": {"const": "Mirela"}}},
              "required": ["target"]}  # fmt: skip
    assert build_arguments((schema, ("Grub",), "")) == {"target": "Grub"}
    assert build_arguments((schema, ("Mirela",), "")) == {"target": ""}
    assert build_arguments((json.dumps(schema), ("Grub",), "")) == {"target": "Grub"}
    assert build_arguments(("{not json", ("Grub",), "")) == {}


async def test_fallback_arguments_name_the_scene() -> None:
    schema = {
        "type": "object",
        "properties": {"target": {"type": "string"}},
        "required": ["target"],
    }
    rules = DecisionRules({"a": schema}, "a")
    decision = await rules.fallback(Scene(characters=(Character("Grub"),)))
    assert json.loads(decision.arguments_json) == {"target": "Grub"}


def test_example_budget_counts_repeated_values() -> None:
    schema = {"type": "array", "minItems": 64, "items": {"type": "array", "minItems": 64}}
    value = example_for(schema)
    assert len(value) == 64
    assert all(len(row) == 64 for row in value)  # 64 x 64 values: within MAX_VALUES


class Overrunning:
    """An Offload whose every item overran its budget."""

    def __init__(self) -> None:
        self.calls = 0

    async def map(self, fn: Any, items: Any, *, each: float, total: float) -> list[Any]:
        self.calls += 1
        return [WorkFailed(overrun=True)] * len(items)


async def test_work_over_budget_is_a_clear_answer() -> None:
    """A schema whose check overruns is refused; an answer whose check overruns is invalid;
    fallback arguments that cannot be built in time are `{}` (after a second try)."""
    offload = Overrunning()
    work = SchemaWork(offload, budget=0.1)
    with pytest.raises(InvalidArgument) as caught:
        await check_decide("s", "q?", (option("a", SCHEMAS[0]),), "", Scene(), Limits(), "", work)
    (violation,) = caught.value.violations
    assert violation.field == "options[0].arguments_schema"
    assert violation.description == "took longer than 100 ms to check: simplify it"
    rules = DecisionRules({"a": SCHEMAS[0]}, "a", work)
    assert await rules.check("{}") == "the answer took longer than 100 ms to check"
    decision = await rules.fallback(Scene())
    assert decision.arguments_json == "{}"
    assert offload.calls == 4  # options, answer, and the fallback's two tries


async def test_options_without_schemas_need_no_worker() -> None:
    offload = Overrunning()
    schemas = await check_decide(
        "s", "q?", (option("a"), option("b")), "", Scene(), Limits(), "", SchemaWork(offload)
    )
    assert schemas == {"a": None, "b": None}
    assert offload.calls == 0
