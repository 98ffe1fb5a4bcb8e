"""Retry policy for opening an upstream stream: exponential backoff with jitter, the upstream's
Retry-After honoured, and no wait that cannot fit in the call's remaining deadline."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import trace
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter

from ..core.errors import UpstreamError

if TYPE_CHECKING:
    from ..core.ports import Deadline
    from ..telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    initial_wait: float = 0.25
    max_wait: float = 8.0
    jitter: float = 0.25
    # Longest Retry-After we agree to wait; a longer hint fails at once (RESOURCE_EXHAUSTED).
    max_retry_after: float = 20.0


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, UpstreamError) and error.retryable


class _Wait:
    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        )

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            return float(hint)
        return float(self._backoff(state))


class BudgetStop(stop_base):
    """Stops when the next wait is longer than allowed or cannot fit in the deadline;
    `deadline_hit` tells the caller which."""

    def __init__(self, policy: RetryPolicy, deadline: Deadline) -> None:
        self._policy = policy
        self._deadline = deadline
        self.deadline_hit = False

    def __call__(self, state: RetryCallState) -> bool:
        sleep = state.upcoming_sleep
        remaining = self._deadline.remaining()
        # Keep a little room for the attempt that would follow the wait.
        self.deadline_hit = remaining is not None and sleep + 0.05 >= remaining
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after", None)
        too_long = hint is not None and hint > self._policy.max_retry_after
        return self.deadline_hit or too_long


class _Announce:
    """Before each wait: a log line, a retry event on the RPC's span and the retries counter."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    def __call__(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = type(error).__name__
        wait = round(state.upcoming_sleep, 3)
        trace.get_current_span().add_event(
            "narrator.retry",
            {"attempt": state.attempt_number, "error.type": reason, "wait_s": wait},
        )
        self._telemetry.retries.add(1, {"error.type": reason})
        log.warning(
            "upstream attempt failed; retrying",
            extra={"attempt": state.attempt_number, "error_type": reason, "wait_s": wait},
        )


def retrying(policy: RetryPolicy, budget: BudgetStop, telemetry: Telemetry) -> AsyncRetrying:
    """A tenacity controller for one call; re-raises the last domain error when it gives up."""
    return AsyncRetrying(
        retry=retry_if_exception(_is_retryable),
        wait=_Wait(policy),
        stop=stop_after_attempt(policy.max_attempts) | budget,
        before_sleep=_Announce(telemetry),
        reraise=True,
    )
