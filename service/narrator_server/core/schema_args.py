"""Builds arguments that satisfy a JSON schema: the fallback decision and the offline decider."""

from __future__ import annotations

from typing import Any

# Property names whose value is naturally a character of the scene or a place.
_CHARACTER_HINTS = ("target", "character", "npc", "who", "name", "speaker", "attacker")
_PLACE_HINTS = ("location", "place", "destination", "where", "room")


def example_for(
    schema: dict[str, Any] | None,
    *,
    characters: tuple[str, ...] = (),
    location: str = "",
    name: str = "",
) -> Any:
    """A value valid for common schemas (types, enum, const, bounds, required, min items)."""
    if not schema:
        return {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return example_for(schema[key][0], characters=characters, location=location, name=name)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {
            key: example_for(props.get(key, {}), characters=characters, location=location, name=key)
            for key in schema.get("required", [])
        }
    if kind == "array":
        item = example_for(schema.get("items", {}), characters=characters, location=location)
        return [item] * int(schema.get("minItems", 0))
    if kind in ("integer", "number"):
        return _number(schema, kind)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema, name.lower(), characters, location)


def _number(schema: dict[str, Any], kind: str) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    value: int | float = (
        low + 1 if "exclusiveMinimum" in schema and "minimum" not in schema else low
    )
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    return int(value) if kind == "integer" else float(value)


def _string(schema: dict[str, Any], name: str, characters: tuple[str, ...], location: str) -> str:
    text = ""
    if characters and any(h in name for h in _CHARACTER_HINTS):
        text = characters[0]
    elif location and any(h in name for h in _PLACE_HINTS):
        text = location
    low = int(schema.get("minLength", 0))
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text
