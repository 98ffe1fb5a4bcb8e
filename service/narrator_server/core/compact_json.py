"""Compact JSON with non-ASCII kept: what `json.dumps(value, ensure_ascii=False,
separators=(",", ":"))` writes, from one encoder built once.

`json.dumps` with arguments builds a `JSONEncoder` and then its C encoder for every call, which
costs three to four times the encoding of a small value; the store writes several such values
for every turn. The encoder here keeps no record of the containers it is inside (no
`markers`): shared by every caller and thread, it has nothing to get wrong after an error (a
record left by a failed write would make the same containers look circular to the next one).
The values written here come from frozen dataclasses and are never circular; a circular one
would end in `RecursionError`.
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, NoReturn


def _default(value: object) -> NoReturn:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# (markers, default, encoder, indent, key separator, item separator, sort_keys, skipkeys,
# allow_nan): json.dumps's defaults but for the separators, without the circular check.
_ENCODE = (
    c_make_encoder(None, _default, encode_basestring, None, ":", ",", False, False, True)
    if c_make_encoder is not None
    else None  # a Python without the `_json` accelerator
)


def dumps(value: Any) -> str:
    """`value` as compact JSON, byte for byte what `json.dumps(value, ensure_ascii=False,
    separators=(",", ":"))` writes. Raises TypeError for a value JSON cannot hold."""
    if _ENCODE is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str):
        return encode_basestring(value)
    return "".join(_ENCODE(value, 0))
