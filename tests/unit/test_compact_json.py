"""Compact JSON from one shared encoder: exactly json.dumps's bytes, for every thread."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narrator_server.core import compact_json
from narrator_server.core.compact_json import dumps


def reference(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Any text (lone surrogates, controls, non-ASCII included), any float (NaN and infinities are
# written as json.dumps writes them), nested lists, tuples and dicts.
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400)
@given(values)
def test_it_writes_what_json_dumps_writes(value: Any) -> None:
    assert dumps(value) == reference(value)


def test_keys_that_are_not_strings_are_written_as_json_dumps_writes_them() -> None:
    value = {1: "a", 2.5: "b", False: "c", None: "d"}
    assert dumps(value) == reference(value) == '{"1":"a","2.5":"b","false":"c","null":"d"}'


def test_a_value_json_cannot_hold_is_a_type_error_as_in_json_dumps() -> None:
    for bad in ({"a": {1, 2}}, [object()], {("tuple", "key"): 1}):
        with pytest.raises(TypeError) as ours:
            dumps(bad)
        with pytest.raises(TypeError) as theirs:
            reference(bad)
        assert str(ours.value) == str(theirs.value)


def test_a_failed_write_leaves_nothing_behind_for_the_next_one() -> None:
    # The encoder is shared by every caller and thread: one that kept a record of the
    # containers it is inside would keep them after an error and then refuse these same
    # containers as "circular".
    inner: list[Any] = [{"set"}]
    value = [inner, {"k": inner}]
    with pytest.raises(TypeError):
        dumps(value)
    inner[0] = "fine"
    assert dumps(value) == reference(value) == '[["fine"],{"k":["fine"]}]'


def test_without_the_accelerator_it_falls_back_to_json_dumps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compact_json, "_ENCODE", None)
    value = {"é": [1.5, None, "\ud800"]}
    assert dumps(value) == reference(value)
