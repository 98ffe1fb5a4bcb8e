"""Text that can always be encoded: what a model sends may hold lone surrogates."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T")


def encodable(text: str) -> str:
    """The text with each lone surrogate (from a JSON escape like \\ud800 without its pair)
    replaced by U+FFFD, so that protobuf, SQL drivers and logs can encode it as UTF-8."""
    if text.isascii():  # a flag of the string: no copy, no scan
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def encodable_all(value: T) -> T:
    """A copy of a frozen dataclass (or tuple of them) with `encodable` applied to every
    string in it: data stored before lone surrogates were refused can still be sent."""
    if isinstance(value, str):
        return encodable(value)  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(encodable_all(v) for v in value)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: encodable_all(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value
