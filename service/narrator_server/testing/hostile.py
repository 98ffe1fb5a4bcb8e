"""The hostile requests found so far (issue 8 and the fuzz harness), as data.

Used by the unit tests (each schema's verdict), the integration test (each Decide against a
real server while health is polled), the fuzz harness (as seeds) and `bench/hostile.py`
(wall time, server CPU and health latency of each). Each entry is a schema text and the words
its field violation must contain (None: the schema is acceptable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from narrator.v1 import narrator_service_pb2 as pb
from narrator.v1 import turn_pb2


def _object(**properties: Any) -> str:
    return json.dumps({"type": "object", "properties": properties, "required": list(properties)})


def _nested(depth: int, leaf: str) -> str:
    return '{"type":"object","properties":{"a":' * depth + leaf + "}}" * depth


SCHEMAS: dict[str, tuple[str, str | None]] = {
    "remote $ref": ('{"$ref": "http://127.0.0.1:9/x.json"}', "leaves the document"),
    "file $ref": (_object(a={"$ref": "file:///etc/passwd"}), "leaves the document"),
    "relative $ref": (_object(a={"$ref": "other.json#/a"}), "leaves the document"),
    "unresolvable $ref": ('{"$ref": "#/$defs/nowhere"}', "names nothing"),
    "$ref cycle": ('{"$ref": "#"}', "reference loop"),
    "allOf cycle": (
        '{"allOf": [{"$ref": "#/$defs/a"}], "$defs": {"a": {"anyOf": [{"$ref": "#"}]}}}',
        "reference loop",
    ),
    "dynamic $ref": ('{"$dynamicRef": "#meta"}', "not supported"),
    "reference fan-out": (
        json.dumps(
            {
                "type": "object",
                "$defs": {
                    f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}] * 2} for i in range(24)
                }
                | {"d24": {"type": "string"}},
                "properties": {"a": {"$ref": "#/$defs/d0"}},
            }
        ),
        "subschemas once its references",
    ),
    "unknown $schema": ('{"$schema": "http://json-schema.org/draft-04/schema#"}', "not supported"),
    "10k-deep nesting": ('{"not":' * 10_000 + "{}" + "}" * 10_000, "characters"),
    "40-deep not": ('{"not":' * 40 + "{}" + "}" * 40, "nested more than"),
    "1000-deep arrays": ("[" * 1000 + "]" * 1000, "nested more than"),
    "over-long schema": (_object(a={"enum": ["x" * 100] * 200}), "characters"),
    "draft-04 enum of 3000 objects": (
        json.dumps(
            {
                "$schema": "http://json-schema.org/draft-04/schema#",
                "type": "object",
                "properties": {"a": {"enum": [{"k": i} for i in range(3000)]}},
            }
        ),
        "characters",
    ),
    "enum of 300": (_object(a={"enum": list(range(300))}), "the limit is 256"),
    "minLength 300000000": (_object(a={"type": "string", "minLength": 300_000_000}), "minLength"),
    "nested minItems": (
        _object(
            a={
                "type": "array",
                "minItems": 64,
                "items": {
                    "type": "array",
                    "minItems": 64,
                    "items": {
                        "type": "array",
                        "minItems": 64,
                        "items": {"type": "string", "minLength": 1000},
                    },
                },
            }
        ),
        "exceed",
    ),
    "minItems 1e9": (_object(a={"type": "array", "minItems": 1e9}), "minItems"),
    "maxLength float": (_object(a={"type": "string", "maxLength": 1.5}), "maxLength"),
    "multipleOf 1e-300": (_object(a={"type": "number", "multipleOf": 1e-300}), "multipleOf"),
    "minimum 1e308": (_object(a={"type": "number", "minimum": 1e308}), "2^53"),
    "NaN bound": ('{"type": "object", "properties": {"a": {"minimum": NaN}}}', "not JSON"),
    "huge integer": (
        '{"type": "object", "properties": {"a": {"minimum": ' + "9" * 5000 + "}}}",
        "not JSON (Exceeds the limit (4300 digits)",
    ),
    "lone surrogate const": (
        '{"type": "object", "properties": {"a": {"const": "\\ud800"}}}',
        "lone surrogate",
    ),
    "lone surrogate key": ('{"type": "object", "properties": {"\\udfff": {}}}', "lone surrogate"),
    "lone surrogate default": (
        '{"type": "object", "properties": {"a": {"default": "\\ud800x"}}, "required": ["a"]}',
        "lone surrogate",
    ),
    "catastrophic pattern": (
        _object(name={"type": "string", "pattern": "^(a+)+$", "default": "aaaa"}),
        None,
    ),
    "backreference": (
        _object(a={"type": "string", "pattern": "(a)\\1", "default": "aa"}),
        "linear time",
    ),
    "lookahead": (
        _object(a={"type": "string", "pattern": "(?=a)a", "default": "a"}),
        "linear time",
    ),
    "huge repetition": (
        _object(a={"type": "string", "pattern": "(a{1000}){1000}"}),
        "linear time",
    ),
    "properties true": (_object(a=True), None),
    "properties false": (_object(a=False), "cannot build"),
    "2020-12 tuple items": (
        _object(a={"type": "array", "items": [{"type": "string"}], "minItems": 1}),
        "not a valid JSON schema",
    ),
    "draft-07 tuple items": (
        json.dumps(
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "a": {
                        "type": "array",
                        "minItems": 2,
                        "items": [{"type": "string"}, {"type": "integer"}],
                    }
                },
                "required": ["a"],
            }
        ),
        None,
    ),
    "unevaluatedProperties": (
        '{"type": "object", "unevaluatedProperties": false}',
        "not supported",
    ),
    "not an object schema": ('{"type": "array"}', "must describe an object"),
    "not JSON": ('{"type": "object"', "not JSON"),
    "a JSON string": ('"hello"', "JSON schema object"),
    "nested $id": (_object(a={"$id": "http://evil/x", "type": "string"}), "top level"),
    "deep but legal": (_nested(15, '{"type": "integer", "minimum": 3}'), None),
    "pydantic model": (
        json.dumps(
            {
                "$defs": {
                    "Target": {
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                        "type": "object",
                    }
                },
                "properties": {
                    "target": {"$ref": "#/$defs/Target"},
                    "amount": {"type": "integer", "minimum": 3, "multipleOf": 5},
                },
                "required": ["target", "amount"],
                "type": "object",
            }
        ),
        None,
    ),
}


# The player of the session the hostile Decides run in: a name that `^(a+)+$` backtracks on.
PLAYER = "a" * 27 + "!"


@dataclass(frozen=True)
class HostileDecide:
    """A whole Decide request that once hurt the server, and the field its answer names
    (None: the request is valid and must be answered normally)."""

    name: str
    request: pb.DecideRequest
    field: str | None


def _option(option_id: str, schema: str = "") -> turn_pb2.DecisionOption:
    return turn_pb2.DecisionOption(id=option_id, description=option_id, arguments_schema=schema)


def decides(session_id: str) -> list[HostileDecide]:
    """Every hostile schema as the default option of a Decide, then the request-level cases."""
    out = []
    for name, (schema, expected) in SCHEMAS.items():
        request = pb.DecideRequest(
            session_id=session_id,
            question="What does the goblin do?",
            options=[_option("act", schema), _option("wait")],
        )
        field = None if expected is None else "options[0].arguments_schema"
        out.append(HostileDecide(name, request, field))
    forty_deep_not = '{"not":' * 40 + "{}" + "}" * 40
    out.append(
        HostileDecide(
            "10000 options of 40-deep not",
            pb.DecideRequest(
                session_id=session_id,
                question="q",
                options=[_option(f"o{i}", forty_deep_not) for i in range(10_000)],
            ),
            "options",
        )
    )
    out.append(
        HostileDecide(
            "1,500,000 empty options (3 MB of them)",
            pb.DecideRequest(
                session_id=session_id, question="q", options=[turn_pb2.DecisionOption()] * 1_500_000
            ),
            "options",
        )
    )
    out.append(
        HostileDecide(
            "catastrophic pattern on the player's name (offline decider)",
            pb.DecideRequest(
                session_id=session_id,
                question="Does the goblin attack the player?",
                options=[
                    _option("attack", _object(target={"type": "string", "pattern": "^(a+)+$"})),
                    _option("wait"),
                ],
                default_option_id="wait",
            ),
            None,
        )
    )
    return out
