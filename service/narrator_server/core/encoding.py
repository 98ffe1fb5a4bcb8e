"""Text that can always be encoded: what a model sends may hold lone surrogates."""

from __future__ import annotations


def encodable(text: str) -> str:
    """The text with each lone surrogate (from a JSON escape like \\ud800 without its pair)
    replaced by U+FFFD, so that protobuf, SQL drivers and logs can encode it as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
