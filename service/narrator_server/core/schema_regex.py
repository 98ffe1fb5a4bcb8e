"""`pattern` and `patternProperties` through RE2: matching time is linear in the text.

Python's `re` backtracks (`^(a+)+$` takes seconds on 30 characters); RE2 never does. A pattern
RE2 cannot compile (backreferences, lookaround, repetition counts above 1000, a program over
the memory cap) is refused when the schema arrives, never run with another engine.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

_MAX_PROGRAM_BYTES = 2 << 20


def _options() -> Any:
    options = re2.Options()
    options.max_mem = _MAX_PROGRAM_BYTES
    options.log_errors = False
    return options


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, _options())


def problem(pattern: str) -> str | None:
    """Why RE2 cannot run the pattern, or None when it can."""
    try:
        _compiled(pattern)
    except re2.error as error:
        reason = error.args[0] if error.args else "invalid"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return (
            f"cannot run in linear time ({str(reason)[:100]}); backreferences and lookaround "
            "are not supported"
        )
    return None


def search(pattern: str, text: str) -> bool:
    """True when the pattern matches somewhere in the text (JSON Schema's `pattern`)."""
    return _compiled(pattern).search(text) is not None
