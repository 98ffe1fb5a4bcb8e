"""Builds arguments that satisfy a JSON schema: the fallback decision and the offline decider.

The builder is total and bounded: any schema that passed the limits gives either a value (which
the caller still validates) or `Unbuildable`, after at most `MAX_VALUES` JSON values and
`MAX_CHARS` characters of strings, whatever the schema's sizes and references say.
"""

from __future__ import annotations

import math
from typing import Any

from .schema_limits import SchemaProblem, resolve

# Property names whose value is naturally a character of the scene or a place.
_CHARACTER_HINTS = ("target", "character", "npc", "who", "name", "speaker", "attacker")
_PLACE_HINTS = ("location", "place", "destination", "where", "room")
MAX_VALUES = 10_000
MAX_CHARS = 65_536
MAX_DEPTH = 64
_MERGED = ("properties", "required")


class Unbuildable(Exception):
    """The server cannot build a value for the schema (false, too large, or too deep)."""


def example_for(
    schema: dict[str, Any] | bool | None,
    *,
    characters: tuple[str, ...] = (),
    location: str = "",
    name: str = "",
) -> Any:
    """A value valid for common schemas (types, enum, const, default, bounds, required, min
    items, local references), using the scene's names where a property's name asks for one."""
    if not schema:
        if schema is False:
            raise Unbuildable("the schema accepts no value")
        return {}
    return _Builder(schema, characters, location).build(schema, name.lower(), 0)


class _Builder:
    def __init__(self, root: Any, characters: tuple[str, ...], location: str) -> None:
        self.root = root
        self.characters = characters
        self.location = location
        self.values = 0
        self.chars = 0

    def spend(self, values: int, chars: int = 0) -> None:
        self.values += values
        self.chars += chars
        if self.values > MAX_VALUES or self.chars > MAX_CHARS:
            raise Unbuildable(
                f"the arguments it requires exceed {MAX_VALUES} values or {MAX_CHARS} characters"
            )

    def view(self, node: Any) -> dict[str, Any]:
        """The node with its `$ref` and `allOf` members folded in (first keyword wins, except
        `properties` and `required`, which add up)."""
        if not isinstance(node, dict):
            if node is True:
                return {}
            raise Unbuildable("a subschema accepts no value")
        merged: dict[str, Any] = {}
        pending: list[Any] = [node]
        parts = 0
        while pending:
            parts += 1
            if parts > MAX_DEPTH:
                raise Unbuildable("its references and allOf nest too deeply")
            part = pending.pop(0)
            if part is True:
                continue
            if not isinstance(part, dict):
                raise Unbuildable("a subschema accepts no value")
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**value, **merged.get("properties", {})}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = list(dict.fromkeys(merged.get("required", []) + value))
                elif key not in ("$ref", "allOf"):
                    merged.setdefault(key, value)
            if isinstance(part.get("$ref"), str):
                try:
                    pending.append(resolve(self.root, part["$ref"])[1])
                except SchemaProblem as problem:
                    raise Unbuildable(str(problem)) from None
            if isinstance(part.get("allOf"), list):
                pending.extend(part["allOf"])
        return merged

    def build(self, node: Any, name: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise Unbuildable("the arguments it requires nest too deeply")
        schema = self.view(node)
        self.spend(1)
        for key in ("const", "enum", "default"):
            if key in schema and (key != "enum" or schema[key]):
                value = schema[key][0] if key == "enum" else schema[key]
                self.spend(*_weight(value))
                return value
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                return self._first_branch(rest, branches, name, depth)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind in ("integer", "number"):
            return _number(schema, kind)
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        text = self._string(schema, name)
        self.spend(0, len(text))
        return text

    def _first_branch(
        self, rest: dict[str, Any], branches: list[Any], name: str, depth: int
    ) -> Any:
        last: Unbuildable | None = None
        for branch in branches[:8]:
            try:
                return self.build({**rest, "allOf": [branch]}, name, depth + 1)
            except Unbuildable as problem:
                last = problem
        raise last or Unbuildable("no branch can be built")

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties", {})
        out: dict[str, Any] = {}
        for key in schema.get("required") or ():
            if isinstance(key, str) and key not in out:
                sub = props.get(key, extra if isinstance(extra, dict) else {})
                out[key] = self.build(sub, key.lower(), depth + 1)
        return out

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        items = schema.get("items", {})
        prefix = schema.get("prefixItems") or (items if isinstance(items, list) else [])
        rest = schema.get("additionalItems", {}) if isinstance(items, list) else items
        if "contains" in schema and rest in ({}, True):
            rest = schema["contains"]
        count = _count(schema.get("minItems"))
        out = [self.build(prefix[i], "", depth + 1) for i in range(min(count, len(prefix)))]
        if count > len(out):
            before = (self.values, self.chars)
            item = self.build(rest, "", depth + 1)
            repeats = count - len(out) - 1
            self.spend((self.values - before[0]) * repeats, (self.chars - before[1]) * repeats)
            out += [item] * (repeats + 1)
        return out

    def _string(self, schema: dict[str, Any], name: str) -> str:
        text = ""
        if self.characters and any(h in name for h in _CHARACTER_HINTS):
            text = self.characters[0]
        elif self.location and any(h in name for h in _PLACE_HINTS):
            text = self.location
        low = _count(schema.get("minLength"))
        if len(text) < low:
            text = text + "x" * (low - len(text))
        if "maxLength" in schema:
            text = text[: _count(schema["maxLength"])]
        return text


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "items" in schema or "prefixItems" in schema or "minItems" in schema:
        return "array"
    if "minLength" in schema or "maxLength" in schema or "pattern" in schema:
        return "string"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
        return "number"
    return "object"


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _bound(schema: dict[str, Any], key: str) -> float | None:
    value = schema.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _number(schema: dict[str, Any], kind: str) -> int | float:
    low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
    above, below = _bound(schema, "exclusiveMinimum"), _bound(schema, "exclusiveMaximum")
    step = 1.0 if kind == "integer" else 0.5
    value = 0.0 if low is None else low
    if above is not None and value <= above:
        value = math.floor(above) + 1 if kind == "integer" else above + step
    if kind == "integer":
        value = math.ceil(value)
    multiple = _bound(schema, "multipleOf")
    if multiple:
        value = math.ceil(value / multiple) * multiple
    if high is not None and value > high:
        value = high
    if below is not None and value >= below:
        value = below - step
    return int(value) if kind == "integer" else float(value)


def _weight(value: Any) -> tuple[int, int]:
    """JSON values and string characters in a value (bounded by the schema text it came from)."""
    values = chars = 0
    stack = [value]
    while stack:
        node = stack.pop()
        values += 1
        if isinstance(node, dict):
            stack.extend(node.values())
            chars += sum(len(k) for k in node)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            chars += len(node)
    return values, chars
