"""The circuit breaker's states with a fake clock."""

from __future__ import annotations

from narrator_server.core.breaker import BreakerPolicy, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_open_skipped_half_open_closed() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=3, cooldown=30), clock)
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()  # skipped during the cooldown
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # the one probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # nobody else while the probe runs
    breaker.success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()


def test_a_failed_probe_opens_again_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, cooldown=10), clock)
    breaker.failure()
    clock.now += 10
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 9
    assert not breaker.allow()


def test_an_abandoned_probe_lets_the_next_one_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, cooldown=1), clock)
    breaker.failure()
    clock.now += 1
    assert breaker.allow()
    breaker.abandon()
    assert breaker.allow()


def test_a_failure_rate_opens_it() -> None:
    policy = BreakerPolicy(consecutive_failures=100, failure_rate=0.5, window=10, min_calls=10)
    breaker = CircuitBreaker(policy, Clock())
    for _ in range(5):
        breaker.success()
        breaker.failure()
    assert breaker.state is BreakerState.OPEN


def test_successes_keep_it_closed() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=2, failure_rate=0.5), Clock())
    for _ in range(10):
        breaker.failure()
        breaker.success()
        breaker.success()  # one failure in three: under the rate
    assert breaker.state is BreakerState.CLOSED


def test_failure_says_when_it_opened_the_breaker() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=2), Clock())
    assert breaker.failure() is False
    assert breaker.failure() is True
    assert breaker.failure() is False  # already open


def test_a_breaker_opened_elsewhere_is_adopted_for_what_is_left_of_its_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=5, cooldown=30), clock)
    assert breaker.adopt_open(remaining=10)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # this server's own probe
    assert breaker.state is BreakerState.HALF_OPEN


def test_its_own_opening_seen_again_through_the_shared_state_changes_nothing() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, cooldown=30), clock)
    assert breaker.failure()
    clock.now += 5
    assert not breaker.adopt_open(remaining=24.8)  # the same opening, seen with some latency
    assert breaker.adopt_open(remaining=30)  # a later one (a failed probe elsewhere)
    clock.now += 29.9
    assert not breaker.allow()
