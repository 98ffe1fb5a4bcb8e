"""Static checks of a hostile arguments schema, before any validator is built from it.

The walk is iterative and bounded: it refuses what would make validation or example building
expensive or unsafe (deep or huge documents, references that leave the document or loop without
descending into the value, unbounded sizes, patterns the linear-time engine cannot run) and what
cannot be encoded (lone surrogates). Everything here is a pure function of parsed JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
DRAFT_07 = "http://json-schema.org/draft-07/schema"
# `$schema` values accepted (with or without a trailing "#"; draft-07 also over https).
DRAFTS = {
    DRAFT_2020_12: DRAFT_2020_12,
    DRAFT_07: DRAFT_07,
    "https://json-schema.org/draft-07/schema": DRAFT_07,
}


@dataclass(frozen=True)
class SchemaLimits:
    """The documented caps of one option's arguments schema (docs/security.md)."""

    max_chars: int = 16_384  # one option's schema text
    max_total_chars: int = 65_536  # every schema of one request together
    max_depth: int = 32  # JSON nesting of the document
    max_subschemas: int = 512  # schema objects reachable in the document
    max_expanded: int = 5_000  # subschemas applied once references are followed
    max_enum: int = 256  # values of one `enum`, names of one `required`
    max_min_length: int = 1_000  # `minLength`
    max_min_count: int = 64  # `minItems`, `minProperties`, `minContains`
    max_size: int = 1_000_000  # any `max*`/`min*` size keyword
    max_number: float = 2.0**53  # magnitude of bounds and `multipleOf`
    min_multiple_of: float = 1e-9
    max_pattern_chars: int = 1_000


LIMITS = SchemaLimits()

_MIN_COUNTS = ("minItems", "minProperties", "minContains")
_MAX_SIZES = ("maxLength", "maxItems", "maxProperties", "maxContains")
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_REFUSED = {
    "$dynamicRef": "dynamic references are not supported",
    "$dynamicAnchor": "dynamic references are not supported",
    "$recursiveRef": "recursive references are not supported",
    "$recursiveAnchor": "recursive references are not supported",
    "unevaluatedProperties": "is not supported (use additionalProperties)",
    "unevaluatedItems": "is not supported (use items)",
}
# Keywords whose subschemas apply to a part of the value (the value shrinks on the way).
_DESCEND_ONE = ("additionalProperties", "additionalItems", "contains", "propertyNames")
_DESCEND_MAP = ("properties", "patternProperties")
# Keywords whose subschemas apply to the same value.
_SAME_ONE = ("not", "if", "then", "else")
_SAME_LIST = ("allOf", "anyOf", "oneOf")
_SAME_MAP = ("dependentSchemas",)
_DEFINITIONS = ("$defs", "definitions")

Path = tuple[str | int, ...]


class SchemaProblem(Exception):
    """What makes a schema unacceptable, in words for a field violation."""


def draft_of(schema: dict[str, Any]) -> str:
    """The draft the schema declares (2020-12 when it declares none); SchemaProblem if unknown."""
    declared = schema.get("$schema")
    if declared is None:
        return DRAFT_2020_12
    if not isinstance(declared, str):
        raise SchemaProblem('"$schema" must be a string')
    draft = DRAFTS.get(declared.removesuffix("#"))
    if draft is None:
        raise SchemaProblem(
            f'"$schema" {declared[:100]!r} is not supported: use {DRAFT_2020_12!r} '
            f"(the default) or {DRAFT_07 + '#'!r}"
        )
    return draft


def check_document(value: Any, limits: SchemaLimits = LIMITS) -> None:
    """Depth, finite numbers and encodable strings, over the whole JSON document."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            raise SchemaProblem(f"is nested more than {limits.max_depth} levels deep")
        if isinstance(node, dict):
            for key, item in node.items():
                _encodable(key)
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str):
            _encodable(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise SchemaProblem("holds a number that is not finite")


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SchemaProblem(
            "holds a lone surrogate (an escape like \\ud800 without its pair): it cannot be "
            "encoded as UTF-8"
        ) from None


def resolve(root: Any, ref: str) -> tuple[Path, Any]:
    """The path and node a local `$ref` ("#" or "#/json/pointer") names in the document."""
    if not ref.startswith("#"):
        raise SchemaProblem(
            f'"$ref" {ref[:100]!r} leaves the document: only local references ("#/...") resolve'
        )
    pointer = unquote(ref[1:])
    if pointer and not pointer.startswith("/"):
        raise SchemaProblem(f'"$ref" {ref[:100]!r} is not a JSON pointer ("#/$defs/name")')
    path: list[str | int] = []
    node = root
    for raw in pointer.split("/")[1:] if pointer else ():
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            path.append(token)
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            path.append(int(token))
            node = node[int(token)]
        else:
            raise SchemaProblem(f'"$ref" {ref[:100]!r} names nothing in this schema')
    if not isinstance(node, dict | bool):
        raise SchemaProblem(f'"$ref" {ref[:100]!r} does not name a schema')
    return tuple(path), node


@dataclass
class _Edge:
    target: Path
    node: Any
    applies: bool  # applied to the value (False: a definition, only checked)
    descends: bool  # applied to a part of the value


def _edges(path: Path, node: dict[str, Any], root: Any) -> list[_Edge]:
    out: list[_Edge] = []

    def add(key: str | int, *more: str | int, value: Any, applies: bool, descends: bool) -> None:
        if isinstance(value, dict | bool):
            out.append(_Edge((*path, key, *more), value, applies, descends))

    for key in _DESCEND_ONE + _SAME_ONE:
        if key in node:
            add(key, value=node[key], applies=True, descends=key in _DESCEND_ONE)
    items = node.get("items")
    if isinstance(items, list):
        for i, item in enumerate(items):
            add("items", i, value=item, applies=True, descends=True)
    elif items is not None:
        add("items", value=items, applies=True, descends=True)
    for key in ("prefixItems", *_SAME_LIST):
        members = node.get(key)
        if isinstance(members, list):
            for i, member in enumerate(members):
                add(key, i, value=member, applies=True, descends=key == "prefixItems")
    for key in (*_DESCEND_MAP, *_SAME_MAP, "dependencies", *_DEFINITIONS):
        members = node.get(key)
        if isinstance(members, dict):
            for name, member in members.items():
                applies = key not in _DEFINITIONS
                add(key, name, value=member, applies=applies, descends=key in _DESCEND_MAP)
    ref = node.get("$ref")
    if ref is not None:
        if not isinstance(ref, str):
            raise SchemaProblem('"$ref" must be a string')
        target, value = resolve(root, ref)
        out.append(_Edge(target, value, applies=True, descends=False))
    return out


def _check_keywords(path: Path, node: dict[str, Any], limits: SchemaLimits) -> None:
    where = _where(path)
    for key, why in _REFUSED.items():
        if key in node:
            raise SchemaProblem(f'"{key}"{where} {why}')
    if path and ("$schema" in node or "$id" in node):
        raise SchemaProblem(f'"$schema" and "$id" may appear only at the top level, not{where}')
    for key in (*_MIN_COUNTS, "minLength", *_MAX_SIZES):
        value = node.get(key)
        if value is None:
            continue
        cap = limits.max_min_length if key == "minLength" else limits.max_min_count
        cap = limits.max_size if key in _MAX_SIZES else cap
        if not _is_count(value) or value > cap:
            raise SchemaProblem(f'"{key}"{where} must be a whole number from 0 to {cap}')
    for key in _NUMBERS:
        value = node.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if abs(value) > limits.max_number:
                raise SchemaProblem(f'"{key}"{where} is beyond ±2^53')
            if key == "multipleOf" and 0 < value < limits.min_multiple_of:
                raise SchemaProblem(f'"multipleOf"{where} is below {limits.min_multiple_of:g}')
    for key in ("enum", "required"):
        value = node.get(key)
        if isinstance(value, list) and len(value) > limits.max_enum:
            raise SchemaProblem(f'"{key}"{where} has {len(value)} entries; the limit is '
                                f"{limits.max_enum}")  # fmt: skip
    patterns = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
    if isinstance(node.get("patternProperties"), dict):
        patterns += list(node["patternProperties"])
    for pattern in patterns:
        if len(pattern) > limits.max_pattern_chars:
            raise SchemaProblem(f"a pattern{where} is longer than {limits.max_pattern_chars}")
        from . import schema_regex  # RE2 loads where schemas are checked (see schema_tasks)

        problem = schema_regex.problem(pattern)
        if problem:
            raise SchemaProblem(f"pattern {pattern[:100]!r}{where} {problem}")


def _is_count(value: object) -> bool:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _where(path: Path) -> str:
    if not path:
        return ""
    pointer = "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)
    return f" at #/{pointer[:200]}"


def check_schema_graph(root: dict[str, Any], limits: SchemaLimits = LIMITS) -> None:
    """Keywords, references and size of every subschema reachable from the root."""
    seen: dict[Path, list[_Edge]] = {}
    stack: list[tuple[Path, Any]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if path in seen:
            continue
        if len(seen) >= limits.max_subschemas:
            raise SchemaProblem(f"has more than {limits.max_subschemas} subschemas")
        edges: list[_Edge] = []
        if isinstance(node, dict):
            _check_keywords(path, node, limits)
            edges = _edges(path, node, root)
        seen[path] = edges
        stack.extend((edge.target, edge.node) for edge in edges)
    _check_expansion(seen, limits)


def _check_expansion(graph: dict[Path, list[_Edge]], limits: SchemaLimits) -> None:
    """Refuses a loop of references that never descends into the value (validation would
    never end) and schemas whose references multiply the work past `max_expanded`."""
    same = {
        p: [e.target for e in edges if e.applies and not e.descends] for p, edges in graph.items()
    }
    loop = _back_edge(same)
    if loop is not None:
        raise SchemaProblem(
            f"has a reference loop{_where(loop) or ' at #'} that never descends into the value"
        )
    applied = {p: [e.target for e in edges if e.applies] for p, edges in graph.items()}
    if _tree_size(applied, limits.max_expanded) > limits.max_expanded:
        raise SchemaProblem(
            f"applies more than {limits.max_expanded} subschemas once its references are followed"
        )


def _back_edge(graph: dict[Path, list[Path]]) -> Path | None:
    """A node some loop of `graph` returns to, or None when it has no loop."""
    done: set[Path] = set()
    for start in graph:
        if start in done:
            continue
        on_path = {start}
        stack = [(start, iter(graph[start]))]
        while stack:
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                on_path.discard(node)
                done.add(node)
            elif target in on_path:
                return target
            elif target not in done:
                on_path.add(target)
                stack.append((target, iter(graph[target])))
    return None


def _tree_size(graph: dict[Path, list[Path]], cap: int) -> int:
    """How many subschemas the root applies with every reference inlined (a loop, which must
    descend into the value, counts once); stops counting past `cap`."""
    size: dict[Path, int] = {}
    on_path: set[Path] = set()
    stack: list[tuple[Path, int]] = [((), 0)]
    on_path.add(())
    totals: list[int] = [1]
    while stack:
        node, i = stack[-1]
        targets = graph[node]
        if i < len(targets) and totals[-1] <= cap:
            stack[-1] = (node, i + 1)
            target = targets[i]
            if target in size:
                totals[-1] += size[target]
            elif target in on_path:
                totals[-1] += 1
            else:
                on_path.add(target)
                stack.append((target, 0))
                totals.append(1)
            continue
        stack.pop()
        on_path.discard(node)
        total = totals.pop()
        size[node] = total
        if totals:
            totals[-1] += total
    return size[()]
