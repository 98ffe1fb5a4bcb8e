"""The schema work that runs in a worker process (see `offload.py`): pure, module-level
functions of one picklable item each, with a per-process cache of compiled validators."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .schema_args import Unbuildable, example_for
from .schema_limits import LIMITS, SchemaProblem, check_document, check_schema_graph

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

# jsonschema (with referencing and RE2) loads only where schemas are compiled: the worker
# processes preload it (`workers.pool`); the server process needs these constants, `parse`
# and `Choice` on every turn, and compiled schemas only for an imported save game's options.

# A model's whole decision answer, and the arguments in it (their JSON text).
MAX_ANSWER_CHARS = 262_144
MAX_ARGUMENTS_CHARS = 65_536
_CACHE_SIZE = 256
_validators: OrderedDict[str, Validator] = OrderedDict()


@dataclass(frozen=True)
class Choice:
    option_id: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class OptionReport:
    """An option's parsed schema, or why it is refused."""

    schema: dict[str, Any] | None
    problem: str | None = None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse(text: str) -> Any:
    """JSON text as Python values; `SchemaProblem` when it is not JSON or nests too deeply."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise SchemaProblem(f"is nested more than {LIMITS.max_depth} levels deep") from None
    except json.JSONDecodeError as e:
        raise SchemaProblem(f"is not JSON ({e.msg} at position {e.pos})") from None
    except ValueError as e:  # NaN/Infinity, or an integer over Python's 4300 digits
        raise SchemaProblem(f"is not JSON ({str(e)[:60]})") from None


def _validator(schema: dict[str, Any]) -> Validator:
    key = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    validator = _validators.get(key)
    if validator is None:
        from . import schema_validator

        validator = _validators[key] = schema_validator.build(schema)
        while len(_validators) > _CACHE_SIZE:
            _validators.popitem(last=False)
    else:
        _validators.move_to_end(key)
    return validator


def _accept(text: str) -> dict[str, Any]:
    schema = parse(text)
    if not isinstance(schema, dict):
        raise SchemaProblem("must be a JSON schema object")
    check_document(schema)
    check_schema_graph(schema)
    _validator(schema)
    if schema.get("type", "object") != "object":
        raise SchemaProblem(
            'must describe an object ("type": "object"): arguments are a JSON object'
        )
    return schema


def check_option(item: tuple[str, bool]) -> OptionReport:
    """An option's schema text, checked; for the default option also its fallback arguments,
    which must be buildable and valid so that a decision is always valid."""
    text, is_default = item
    try:
        schema = _accept(text)
    except SchemaProblem as problem:
        return OptionReport(None, str(problem))
    if is_default:
        reason = ""
        try:
            reason = _problem_of(schema, example_for(schema)) or ""
        except Unbuildable as error:
            reason = str(error)
        if reason:
            return OptionReport(
                None,
                "the server cannot build valid fallback arguments for the default option from "
                f'this schema ({reason[:200]}); give its required properties a "default"',
            )
    return OptionReport(schema)


def _problem_of(schema: dict[str, Any], value: Any) -> str | None:
    """What is wrong with arguments for a schema, including their size and encoding."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate cannot be encoded as UTF-8"
    except (ValueError, RecursionError):
        return "they cannot be written as JSON"
    if len(text) > MAX_ARGUMENTS_CHARS:
        return f"longer than {MAX_ARGUMENTS_CHARS} characters as JSON"
    from . import schema_validator

    try:
        return schema_validator.problem(_validator(schema), value)
    except Exception as error:  # hostile values can break a keyword (RecursionError, overflow)
        return f"they could not be checked ({type(error).__name__})"


def check_answer(item: tuple[dict[str, dict[str, Any] | None], str]) -> Choice | str:
    """The choice in a model's raw JSON answer, or what is wrong with it."""
    schemas, raw = item
    if len(raw) > MAX_ANSWER_CHARS:
        return f"the answer is longer than {MAX_ANSWER_CHARS} characters"
    try:
        answer = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return "the answer is not valid JSON"
    if not isinstance(answer, dict):
        return "the answer is not a JSON object"
    decision = answer.get("decision", answer)
    if not isinstance(decision, dict):
        return "'decision' is not an object"
    option_id = decision.get("option_id")
    if not isinstance(option_id, str) or option_id not in schemas:
        return f"option_id {str(option_id)[:80]!r} is not one of {sorted(schemas)}"
    arguments = decision.get("arguments", {})
    if not isinstance(arguments, dict):
        return "'arguments' is not a JSON object"
    schema = schemas[option_id] or {"type": "object"}
    problem = _problem_of(schema, arguments)
    return f"arguments of {option_id!r}: {problem}" if problem else Choice(option_id, arguments)


def build_arguments(
    item: tuple[dict[str, Any] | str | None, tuple[str, ...], str],
) -> dict[str, Any]:
    """Arguments for an option: named from the scene when those are valid, else the plain
    example (validated on arrival for the default option), else `{}`."""
    schema, characters, location = item
    if isinstance(schema, str):
        try:
            schema = _accept(schema) if schema.strip() else None
        except SchemaProblem:
            return {}
    if not schema:
        return {}
    fallback: dict[str, Any] = {}
    for names, place in ((characters, location), ((), "")):
        try:
            value = example_for(schema, characters=names, location=place)
        except Unbuildable:
            continue
        if isinstance(value, dict):
            if _problem_of(schema, value) is None:
                return value
            fallback = fallback or value
    return fallback
