"""Validators for arguments schemas: the pinned drafts, local references only, RE2 patterns.

`jsonschema` does the validating; three keywords that run regular expressions are replaced by
versions that run them through RE2, and references resolve through a registry whose retrieve
refuses every URI, so nothing outside the schema's own document is ever read or fetched.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import jsonschema
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from . import schema_regex
from .schema_limits import DRAFT_07, DRAFT_2020_12, SchemaProblem, draft_of

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

Errors = Iterator[ValidationError]
# The keyword functions get jsonschema's validator instance (typed `Any`: its protocol lacks
# `descend`). How many errors of one value are weighed for the best message (they are unbounded).
_MAX_ERRORS = 50


def _refuse(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


REGISTRY: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Errors:
    if validator.is_type(instance, "string") and not schema_regex.search(pattern, instance):
        yield ValidationError(f"{_short(instance)} does not match {_short(pattern)}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Errors:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if schema_regex.search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Errors:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extras = [
        key
        for key in instance
        if key not in known and not any(schema_regex.search(p, key) for p in patterns)
    ]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif additional is False and extras:
        shown = ", ".join(_short(key) for key in sorted(extras)[:5])
        yield ValidationError(f"additional properties are not allowed ({shown} unexpected)")


def _short(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "…")


_LINEAR = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}
VALIDATORS: dict[str, type[Validator]] = {
    DRAFT_2020_12: jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, _LINEAR
    ),
    DRAFT_07: jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft7Validator, _LINEAR
    ),
}


def check_against_draft(schema: dict[str, Any]) -> type[Validator]:
    """The validator class of the schema's draft, once the schema is valid for that draft's
    metaschema (formats are not checked here: patterns were checked with RE2)."""
    cls = VALIDATORS[draft_of(schema)]
    error = jsonschema.exceptions.best_match(
        itertools.islice(cls(cls.META_SCHEMA).iter_errors(schema), _MAX_ERRORS)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        at = f" at #/{where[:200]}" if where else ""
        raise SchemaProblem(f"is not a valid JSON schema{at}: {error.message[:300]}")
    return cls


def build(schema: dict[str, Any]) -> Validator:
    """A validator for a schema that passed the limits and its draft's metaschema."""
    return check_against_draft(schema)(schema, registry=REGISTRY)


def problem(validator: Validator, value: Any) -> str | None:
    """What is wrong with the value (the most relevant error), or None when it is valid."""
    error = jsonschema.exceptions.best_match(
        itertools.islice(validator.iter_errors(value), _MAX_ERRORS)
    )
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where[:200]}: {error.message[:300]}"
