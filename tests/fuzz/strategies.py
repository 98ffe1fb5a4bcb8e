"""Hypothesis strategies for every request of the contract, hostile by design.

Requests are generated from the protobuf descriptors, so every RPC of `NarratorService` (and
any added later) is covered without code here. Where a field's name calls for something
sharper (a real session id, a hostile schema, a turn id), `FIELDS` maps the name to one
function: adding a message needs nothing, sharpening a field is one function.

String fields may hold `BAD_UTF8`: once the request is serialized, `raw_bytes` swaps it for
bytes that are not UTF-8 (protobuf's Python API refuses to build such a message), so the
bytes-level stub reaches the server's decoding path.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import FieldDescriptor
from hypothesis import strategies as st

from narrator.v1 import narrator_service_pb2 as pb
from narrator_server.testing import hostile

if TYPE_CHECKING:
    from collections.abc import Callable

    from google.protobuf.descriptor import Descriptor
    from google.protobuf.message import Message

SERVICE = pb.DESCRIPTOR.services_by_name["NarratorService"]
RPCS = {m.name: m for m in SERVICE.methods}
# Marks in session_id fields that the harness replaces with a real session's id.
SESSION_MARKS = ("@session:0", "@session:1")
BAD_UTF8 = "\x01BAD-UTF-8\x01"  # 11 bytes, swapped for 11 bytes that are not UTF-8
_BAD_BYTES = b"\xed\xa0\x80" * 3 + b"\xff\xfe"  # lone surrogates as UTF-8, then 0xFF 0xFE
assert len(BAD_UTF8.encode()) == len(_BAD_BYTES)

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}


def odd_text() -> st.SearchStrategy[str]:
    """Text a game would not send: control characters, combining marks, RTL, emoji, huge."""
    return st.one_of(
        st.text(max_size=40),
        st.text(
            st.characters(codec="utf-8", categories=["Cc", "Cf", "Mn", "Zs", "So"]), max_size=40
        ),
        st.sampled_from(["", " ", "\u202e", "\ufeff", "\u0000", "𝔇𝔲𝔫𝔤𝔢𝔬𝔫", "👹" * 50, BAD_UTF8]),
        st.integers(1, 5).map(lambda k: "x" * 10**k),
    )


def json_value() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
        st.text(max_size=10),
    )  # fmt: skip
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)  # fmt: skip


def schema_node() -> st.SearchStrategy[Any]:
    """JSON-schema-shaped values: keywords the server checks, with hostile values."""
    size = st.one_of(st.integers(0, 3), st.sampled_from([64, 65, 1000, 10**9, -1, 2.5]))
    leaf = st.one_of(
        st.booleans(),
        st.fixed_dictionaries({"type": st.sampled_from(
            ["object", "string", "integer", "number", "array", "boolean", "null", "banana"])}),
        st.fixed_dictionaries({"pattern": st.sampled_from(
            ["^(a+)+$", "(a)\\1", "(?=x)", "[", "^[A-Z]{3}$", "(a{1000}){1000}", ".*"])}),
        st.fixed_dictionaries({"$ref": st.sampled_from(
            ["#", "#/$defs/a", "#/properties", "http://127.0.0.1:9/x", "file:///etc/passwd",
             "#/definitions/missing", "#a"])}),
        st.fixed_dictionaries({"const": json_value()}),
        st.fixed_dictionaries({"multipleOf": st.sampled_from([1e-300, 0.5, 3, 1e308])}),
    )  # fmt: skip

    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        keys = st.sampled_from(["a", "b", "target", "where", "\ud7ff"])
        return st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["object", "array", "string"]),
                "properties": st.dictionaries(keys, inner, max_size=3),
                "required": st.lists(keys, max_size=3),
                "items": inner | st.lists(inner, max_size=2),
                "prefixItems": st.lists(inner, max_size=2),
                "allOf": st.lists(inner, max_size=2),
                "anyOf": st.lists(inner, max_size=2),
                "not": inner,
                "$defs": st.fixed_dictionaries({"a": inner}),
                "additionalProperties": inner,
                "minItems": size, "minLength": size, "maxLength": size, "minProperties": size,
                "enum": st.lists(json_value(), max_size=4),
                "default": json_value(),
                "$schema": st.sampled_from([
                    "https://json-schema.org/draft/2020-12/schema",
                    "http://json-schema.org/draft-07/schema#",
                    "http://json-schema.org/draft-04/schema#", "nonsense"]),
            },
        )  # fmt: skip

    return st.recursive(leaf, extend, max_leaves=12)


def arguments_schema() -> st.SearchStrategy[str]:
    seeds = [text for text, _ in hostile.SCHEMAS.values()]
    return st.one_of(
        st.just(""),
        st.sampled_from(seeds),
        schema_node().map(json.dumps),
        st.builds(lambda n: '{"not":' * n + "{}" + "}" * n, st.integers(0, 3000)),
        odd_text(),
    )


def session_id() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SESSION_MARKS),
        odd_text(),
        st.text("0123456789abcdef", min_size=32, max_size=32),
    )


def turn_id() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.from_regex(r"\A[A-Za-z0-9_.:-]{1,64}\Z"), odd_text())


def option_id() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["attack", "flee", "talk"]), turn_id())


def player_text() -> st.SearchStrategy[str]:
    words = st.sampled_from(["I open the door", "I attack Grub", "What now?", hostile.PLAYER])
    return st.one_of(words, odd_text())


def sane_text() -> st.SearchStrategy[str]:
    return st.sampled_from(["Grub", "Mirela", "the crypt", "grim", "a drowned city", "wary",
                            "the door is locked", "she/her", "I open the door", "What now?"])  # fmt: skip


def sane_schema() -> st.SearchStrategy[str]:
    accepted = [text for text, verdict in hostile.SCHEMAS.values() if verdict is None]
    seeds = [text for text, _ in hostile.SCHEMAS.values()]
    return st.one_of(
        st.just(""),
        st.sampled_from(accepted),
        st.sampled_from(seeds),
        schema_node().map(json.dumps),
    )


def sane_options() -> st.SearchStrategy[list[Any]]:
    """1 to 3 options with distinct ids (what a game sends), schemas sane or hostile."""
    from narrator.v1 import turn_pb2

    def option(option_id: str) -> st.SearchStrategy[Any]:
        return st.builds(turn_pb2.DecisionOption, id=st.just(option_id),
                         description=sane_text(), arguments_schema=sane_schema())  # fmt: skip

    ids = st.permutations(["attack", "flee", "talk"]).flatmap(
        lambda order: st.integers(1, 3).map(lambda n: order[:n])
    )
    return ids.flatmap(lambda chosen: st.tuples(*(option(i) for i in chosen)).map(list))


# What a game would send, by field name: a sane request gets these (mostly), so that it gets
# past validation and into turns, schemas and the store.
SANE: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "session_id": lambda: st.sampled_from(SESSION_MARKS),
    "turn_id": lambda: st.one_of(st.just(""), st.just(""), st.from_regex(r"\A[a-z0-9]{1,12}\Z")),
    "options": sane_options,
    "arguments_schema": sane_schema,
    "id": lambda: st.sampled_from(["attack", "flee", "talk"]),
    "default_option_id": lambda: st.sampled_from(["", "", "attack"]),
    "recent_turn_limit": lambda: st.integers(0, 20),
    "resume_after_seq": lambda: st.integers(0, 5),
    "page_size": lambda: st.integers(0, 20),
}

# Field name -> strategy. Every other field gets `value_for` of its type.
FIELDS: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "session_id": session_id,
    "turn_id": turn_id,
    "arguments_schema": arguments_schema,
    "id": option_id,
    "default_option_id": option_id,
    "action": player_text,
    "question": player_text,
    "name": player_text,
    "document": lambda: st.one_of(json_value().map(json.dumps), odd_text()),
}


def mostly(
    usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int
) -> st.SearchStrategy[Any]:
    """`rare` once in `odds` draws, else `usual` (which shrinking goes back to)."""
    return st.integers(0, odds - 1).flatmap(lambda i: rare if i == odds - 1 else usual)


def value_for(field: FieldDescriptor, depth: int, sane: bool = False) -> st.SearchStrategy[Any]:
    """A value of the field's type: extremes included. A sane value (mostly) when `sane`."""
    hostile_value = _hostile_value(field, depth, sane)
    if not sane:
        return hostile_value
    if field.name in SANE:
        good = SANE[field.name]()
    elif field.type == FieldDescriptor.TYPE_STRING:
        good = sane_text()
    elif field.type == FieldDescriptor.TYPE_ENUM:
        good = st.sampled_from([v.number for v in field.enum_type.values])
    elif field.type in _INT_RANGES:
        good = st.integers(0, 20)
    else:
        return hostile_value
    return mostly(good, hostile_value, 16)


def _hostile_value(field: FieldDescriptor, depth: int, sane: bool) -> st.SearchStrategy[Any]:
    if field.name in FIELDS and field.type == FieldDescriptor.TYPE_STRING:
        return FIELDS[field.name]()
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return odd_text()
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        return st.sampled_from([*numbers, 999, -1])  # proto3 enums are open
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        return st.one_of(st.integers(0, 20), st.sampled_from([low, high]), st.integers(low, high))
    if kind == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
        return message(field.message_type, depth + 1, sane)
    return st.nothing()


MAX_REQUEST_BYTES = 3_000_000  # under the server's 4 MiB receive limit, so it is read


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    return int(value.ByteSize()) if hasattr(value, "ByteSize") else 8


def _repeat(pair: tuple[Any, int]) -> list[Any]:
    element, count = pair
    return [element] * min(count, MAX_REQUEST_BYTES // (_size(element) + 4))


def _repeated(element: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """A few distinct elements, or one element repeated up to 10,000 times (huge counts, as
    many as fit in a request the server will read)."""
    return st.one_of(
        st.lists(element, max_size=4),
        st.tuples(element, st.sampled_from([33, 65, 1000, 10_000])).map(_repeat),
    )


def message(
    descriptor: Descriptor, depth: int = 0, sane: bool = False
) -> st.SearchStrategy[Message]:
    """Any message of this type, each field present or not (from `SANE`, `FIELDS` or
    `value_for`). A sane message has sane values with a hostile one here and there."""
    cls = _message_class(descriptor)
    if depth > 3:
        return st.just(cls())
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        kind = field.message_type
        if sane and field.is_repeated and field.name in SANE:
            good = SANE[field.name]()
            optional[field.name] = mostly(good, _repeated(value_for(field, depth)), 8)
        elif kind is not None and kind.GetOptions().map_entry:
            key, value = kind.fields_by_name["key"], kind.fields_by_name["value"]
            entries = st.dictionaries(value_for(key, depth, sane), value_for(value, depth, sane),
                                      max_size=4)  # fmt: skip
            optional[field.name] = entries
        elif field.is_repeated:
            element = value_for(field, depth, sane)
            small = st.lists(element, min_size=1, max_size=3)
            optional[field.name] = mostly(small, _repeated(element), 8) if sane \
                else _repeated(element)  # fmt: skip
        else:
            optional[field.name] = value_for(field, depth, sane)
    if sane:  # every field set, as a game would
        return st.fixed_dictionaries(optional).map(lambda fields: cls(**fields))
    return st.fixed_dictionaries({}, optional=optional).map(lambda fields: cls(**fields))


def _message_class(descriptor: Descriptor) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


def request(rpc: str) -> st.SearchStrategy[tuple[str, Message]]:
    """A request for the RPC: sane with a hostile touch, or hostile through and through."""
    descriptor = RPCS[rpc].input_type
    sane, wild = message(descriptor, sane=True), message(descriptor)
    return st.one_of(sane, wild).map(lambda m: (rpc, m))


# Turns and schemas are where the work is: their RPCs are drawn more often.
WEIGHTS = {"Narrate": 4, "Decide": 8, "CreateSession": 2}


def calls() -> st.SearchStrategy[tuple[str, Message]]:
    """An RPC of the service and a request for it."""
    names = [name for name in sorted(RPCS) for _ in range(WEIGHTS.get(name, 1))]
    return st.sampled_from(names).flatmap(request)


def raw_bytes(request: Message) -> bytes:
    """The request on the wire, with `BAD_UTF8` swapped for invalid UTF-8 of the same length."""
    return request.SerializeToString().replace(BAD_UTF8.encode(), _BAD_BYTES)
