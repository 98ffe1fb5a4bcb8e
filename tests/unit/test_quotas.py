"""The quota policy over the in-process counter, on a clock the test moves."""

from __future__ import annotations

import calendar

import pytest

from narrator_server.core.errors import QuotaExceeded
from narrator_server.core.models import Caller, KeyLimits, Usage
from narrator_server.core.quotas import Limit, Quotas
from narrator_server.quotas.local import LocalQuotaCounter

NOON = calendar.timegm((2026, 3, 14, 12, 0, 0))


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def quotas(clock: Clock, **counter: int) -> Quotas:
    return Quotas(LocalQuotaCounter(clock, **counter), clock=clock)


def caller(player: str = "", **limits: int) -> Caller:
    return Caller("studio", "k1", player, KeyLimits(**limits))


async def refused(call: object) -> QuotaExceeded:
    with pytest.raises(QuotaExceeded) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_requests_per_minute_refuse_with_the_time_one_frees() -> None:
    clock = Clock()
    q, who = quotas(clock), caller(requests_per_minute=6)
    for _ in range(6):
        await q.admit(who)
    error = await refused(q.admit(who))
    assert [(v.limit, v.subject, v.capacity) for v in error.violations] == [
        ("requests_per_minute", "key:k1", 6)
    ]
    assert error.retry_after == pytest.approx(10.0)  # one request drains every 60/6 s
    clock.now += 9.9
    await refused(q.admit(who))
    clock.now += 0.1
    await q.admit(who)
    assert q.usage.totals["k1"].requests == 7
    assert q.usage.denials[("k1", "requests_per_minute")] == 2


async def test_player_requests_count_per_player_else_per_session() -> None:
    clock = Clock()
    q = quotas(clock)
    alice, bob = (
        caller("alice", player_requests_per_minute=1),
        caller("bob", player_requests_per_minute=1),
    )
    await q.admit(alice, "s1")
    error = await refused(q.admit(alice, "s2"))  # the player, whatever the session
    assert [(v.limit, v.subject) for v in error.violations] == [
        ("player_requests_per_minute", "player:alice")
    ]
    await q.admit(bob, "s1")
    nobody = caller(player_requests_per_minute=1)
    await q.admit(nobody, "s1")
    error = await refused(q.admit(nobody, "s1"))
    assert error.violations[0].subject == "session:s1"
    await q.admit(nobody, "s2")
    await q.admit(nobody)  # no player and no session (CreateSession): no player limit


async def test_players_of_another_tenant_are_other_players() -> None:
    q = quotas(Clock())
    limits = KeyLimits(player_requests_per_minute=1)
    await q.admit(Caller("studio-a", "ka", "alice", limits))
    await q.admit(Caller("studio-b", "kb", "alice", limits))


async def test_a_refusal_charges_nothing() -> None:
    clock = Clock()
    q = quotas(clock)
    who = caller("alice", requests_per_minute=2, player_requests_per_minute=1)
    await q.admit(who)
    await refused(q.admit(who))  # the key had room, the player had not
    bob = caller("bob", requests_per_minute=2, player_requests_per_minute=1)
    await q.admit(bob)  # so the key's second request is still there


async def test_tokens_per_minute_reserve_max_tokens_then_settle() -> None:
    clock = Clock()
    q, who = quotas(clock), caller(tokens_per_minute=1000)
    first = await q.reserve(who, 600, 50)
    await refused(q.reserve(who, 600, 50))  # 600 held + 600 > 1000
    await first.settle(Usage(50, 200))
    second = await q.reserve(who, 600, 50)  # 200 used + 600 fits
    error = await refused(q.reserve(who, 600, 50))
    assert error.violations[0].limit == "tokens_per_minute"
    assert error.retry_after == pytest.approx((800 + 600 - 1000) * 60 / 1000)
    await second.release()
    await q.reserve(who, 600, 50)
    assert q.usage.totals["k1"].output_tokens == 200


async def test_settling_twice_counts_once() -> None:
    q, who = quotas(Clock()), caller(tokens_per_minute=1000)
    held = await q.reserve(who, 500, 0)
    await held.settle(Usage(0, 100))
    await held.settle(Usage(0, 100))
    await q.reserve(who, 900, 0)  # 100 + 900 fits: the second settle changed nothing
    assert q.usage.totals["k1"].output_tokens == 100


async def test_a_turn_that_used_more_than_it_reserved_owes_the_difference() -> None:
    clock = Clock()
    q, who = quotas(clock), caller(tokens_per_minute=1000)
    held = await q.reserve(who, 600, 0)
    await held.settle(Usage(0, 1100))  # a recovery: two requests' worth
    error = await refused(q.reserve(who, 100, 0))
    assert error.retry_after == pytest.approx((1100 + 100 - 1000) * 60 / 1000)


async def test_tokens_per_day_count_input_and_output_until_utc_midnight() -> None:
    clock = Clock()
    q, who = quotas(clock), caller(tokens_per_day=1000)
    held = await q.reserve(who, 300, 200)
    await held.settle(Usage(250, 250))
    await q.reserve(who, 300, 200)  # 500 + 500 fits exactly
    error = await refused(q.reserve(who, 1, 0))
    assert error.violations[0].limit == "tokens_per_day"
    assert error.retry_after == pytest.approx(12 * 3600)  # noon to midnight UTC
    clock.now += 12 * 3600
    await q.reserve(who, 300, 200)  # a new day


async def test_a_request_larger_than_a_limit_runs_alone() -> None:
    q, who = quotas(Clock()), caller(tokens_per_minute=100)
    held = await q.reserve(who, 600, 0)
    await refused(q.reserve(who, 600, 0))
    await held.release()
    await q.reserve(who, 600, 0)


async def test_no_limits_and_no_key_charge_nothing() -> None:
    counter = LocalQuotaCounter(Clock())
    q = Quotas(counter)
    for _ in range(100):
        await q.admit(caller("alice"), "s1")
        await q.reserve(caller(), 600, 100)
        await q.reserve(Caller(), 600, 100)
    assert len(counter) == 0


async def test_buckets_are_forgotten_once_empty_and_bounded() -> None:
    clock = Clock()
    counter = LocalQuotaCounter(clock, max_buckets=50)
    q = Quotas(counter, clock=clock)
    for i in range(200):
        await q.admit(caller(f"p{i}", player_requests_per_minute=5))
    assert len(counter) == 50
    clock.now += 61
    await q.admit(caller("late", player_requests_per_minute=5))
    assert len(counter) == 1


async def test_a_fixed_window_is_forgotten_when_it_ends() -> None:
    clock = Clock()
    counter = LocalQuotaCounter(clock)
    day = Limit("tokens_per_day", "key:k1", "tpd/k1/today", 10, resets_at=NOON + 100)
    assert await counter.take([(day, 10)]) == []
    assert [d.retry_after for d in await counter.take([(day, 1)])] == [100]
    clock.now += 100
    await counter.adjust([(day, -5)])  # settling into a window that ended changes nothing
    assert await counter.take([(day, 10)]) == []
