"""Translates `openai` SDK and transport errors into domain errors, once, at this boundary.

Messages name the HTTP status only: never the key, never the upstream's body.
"""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING

import openai

from ..core.errors import (
    RequestRejected,
    UpstreamError,
    UpstreamMisconfigured,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def to_domain(error: Exception) -> UpstreamError:
    if isinstance(error, UpstreamError):
        return error
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        hint = retry_after(error.response.headers)
        if status == 429:
            return UpstreamRateLimited("upstream rate limit (HTTP 429)", retry_after=hint)
        if status >= 500 or status in (408, 409):
            return UpstreamUnavailable(f"upstream failed (HTTP {status})", retry_after=hint)
        if status in (401, 403, 404):
            return UpstreamMisconfigured(
                f"upstream refused the server (HTTP {status}): check its API key, access and "
                "model name"
            )
        if status in (400, 413, 422):
            return RequestRejected(
                f"the model rejected this request (HTTP {status}); shorten the action, scene "
                "or options"
            )
        return UpstreamRejected(f"upstream rejected the request (HTTP {status})")
    if isinstance(error, openai.APITimeoutError):
        return UpstreamUnavailable("upstream timed out")
    if isinstance(error, openai.APIConnectionError):
        return UpstreamUnavailable("upstream unreachable")
    return UpstreamUnavailable(f"upstream stream broke ({type(error).__name__})")
