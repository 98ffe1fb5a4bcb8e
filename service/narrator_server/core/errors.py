"""Domain errors. Adapters raise these; the API layer maps them to status codes in one table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request: its path and what is wrong with it."""

    field: str
    description: str


class NarratorError(Exception):
    """Base of every error the core reports to callers."""


class InvalidArgument(NarratorError):
    """The request is malformed; nothing was stored."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class ContentRejected(InvalidArgument):
    """A player's text is not allowed at the session's content rating: which field, the
    category it was refused for, and the rating. The text itself is never repeated."""

    def __init__(self, field: str, category: str, description: str, rating: str) -> None:
        self.field = field
        self.category = category
        self.rating = rating
        why = f"is not allowed at this session's content rating ({rating}): {description}"
        super().__init__([FieldViolation(field, f"{why} ({category})")])


class SessionNotFound(NarratorError):
    """No session has this id (never created, or deleted)."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id!r} not found")


class LoreEntryNotFound(NarratorError):
    """The session has no lore entry with this id."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"lore entry {entry_id!r} not found")


class TurnNotFound(NarratorError):
    """The session has no turn with this id."""

    def __init__(self, turn_id: str) -> None:
        self.turn_id = turn_id
        super().__init__(f"turn {turn_id!r} not found")


class UpstreamError(NarratorError):
    """The model provider failed. `retryable` errors may be retried before the first delta."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class UpstreamUnavailable(UpstreamError):
    """The provider is down, unreachable, timed out or broke the stream."""


class UpstreamRateLimited(UpstreamError):
    """The provider refused for rate limits; `retry_after` is its hint in seconds."""


class UpstreamRejected(UpstreamError):
    """The provider refused the request itself: retrying won't help."""

    retryable = False


class UpstreamMisconfigured(UpstreamRejected):
    """The upstream refused us (bad key, no access, unknown model: HTTP 401/403/404): the
    operator must fix the configuration. Counts against the upstream's breaker."""


class RequestRejected(UpstreamRejected):
    """The upstream refused this request's content (HTTP 400/413/422: a prompt over the
    model's context, a schema it cannot follow). The caller's problem, not the upstream's:
    it never counts against a breaker."""


class StreamInterrupted(UpstreamUnavailable):
    """The provider failed after text was already sent to the client; no retry is possible."""

    retryable = False


class Overloaded(NarratorError):
    """The server is at a concurrency limit; the call was refused at once, not queued."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class TurnAborted(NarratorError):
    """A resumed turn had ended cancelled, failed or interrupted; it cannot go on."""


class FailedPrecondition(NarratorError):
    """The request is valid but the session's state does not allow it now (e.g. regenerate
    with no turn to replace)."""


class StoreUnavailable(NarratorError):
    """The storage cannot serve the call now (disk full, corrupt, unreachable); retry later."""

    def __init__(self, message: str, retry_after: float = 2.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class CoordinationUnavailable(NarratorError):
    """The state the servers of a deployment share (running turns, limits, breakers: Redis)
    cannot be reached now. New turns are refused; retry later."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class DeadlineExceeded(NarratorError):
    """The call's deadline passed, or a needed wait could not fit in what remained of it."""


class Unauthenticated(NarratorError):
    """No valid API key: missing, unknown and revoked keys all look the same."""

    def __init__(self) -> None:
        super().__init__(
            "a valid API key is required: send the metadata 'authorization: Bearer <key>'"
        )


@dataclass(frozen=True)
class QuotaViolation:
    """One limit a caller is over: which limit, for which subject ("key:ID", "player:NAME",
    "session:ID"), its value, and a sentence saying it."""

    limit: str
    subject: str
    capacity: int
    description: str


class QuotaExceeded(NarratorError):
    """The caller is over a quota (a key's or a player's); `retry_after` is when the first
    violated limit frees enough for this call. Nothing was started or stored."""

    def __init__(self, violations: list[QuotaViolation], retry_after: float) -> None:
        self.violations = violations
        self.retry_after = retry_after
        super().__init__("; ".join(v.description for v in violations))
