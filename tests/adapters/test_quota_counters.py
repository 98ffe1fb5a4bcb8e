"""The quota counter contract, in process and on Redis; on Redis, replicas share each limit."""

from __future__ import annotations

import calendar
from typing import TYPE_CHECKING

import pytest

from narrator_server.core.quotas import Limit
from narrator_server.quotas.local import LocalQuotaCounter
from narrator_server.shared.redis_client import connect
from narrator_server.shared.redis_quotas import RedisQuotaCounter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from narrator_server.core.quotas import QuotaCounter

NOON = calendar.timegm((2026, 3, 14, 12, 0, 0))
RPM = Limit("requests_per_minute", "key:k1", "rpm:k1", 6)
DAY = Limit("tokens_per_day", "key:k1", "tpd:k1:2026-03-14", 1000, resets_at=NOON + 12 * 3600)


class Clock:
    def __init__(self) -> None:
        self.now = float(NOON)

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["local", "redis"])
async def counters(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Clock, Callable[[], QuotaCounter]]]:
    """A clock and a maker of counters: each one a replica's (on Redis, sharing the counts)."""
    clock = Clock()
    if request.param == "local":
        local = LocalQuotaCounter(clock)
        yield clock, lambda: local
        return
    client = connect(request.getfixturevalue("redis_url"), 1.0)
    try:
        yield clock, lambda: RedisQuotaCounter(client, clock=clock)
    finally:
        await client.aclose()


async def test_a_rolling_minute_refuses_with_the_time_one_frees_and_drains(
    counters: tuple[Clock, Callable[[], QuotaCounter]],
) -> None:
    clock, make = counters
    one, two = make(), make()
    for i in range(6):
        assert await (one if i % 2 else two).take([(RPM, 1)]) == []
    (denial,) = await two.take([(RPM, 1)])
    assert denial.limit == RPM
    assert denial.retry_after == pytest.approx(10.0)  # one request drains every 60/6 s
    clock.now += 10
    assert await one.take([(RPM, 1)]) == []


async def test_all_or_nothing_and_adjustments(
    counters: tuple[Clock, Callable[[], QuotaCounter]],
) -> None:
    clock, make = counters
    counter = make()
    assert await counter.take([(DAY, 900)]) == []
    denied = await counter.take([(RPM, 1), (DAY, 200)])
    assert [d.limit for d in denied] == [DAY]
    assert denied[0].retry_after == pytest.approx(12 * 3600)  # noon to midnight
    await counter.adjust([(DAY, -300)])  # a reservation settled lower
    assert await counter.take([(RPM, 6), (DAY, 400)]) == []  # the refusal charged nothing
    assert [d.limit for d in await counter.take([(RPM, 1)])] == [RPM]
    clock.now = NOON + 12 * 3600  # a new day
    assert await counter.take([(DAY, 1000)]) == []


async def test_a_charge_larger_than_the_limit_fits_only_alone(
    counters: tuple[Clock, Callable[[], QuotaCounter]],
) -> None:
    clock, make = counters
    counter = make()
    assert await counter.take([(RPM, 10)]) == []
    assert await counter.take([(RPM, 10)]) != []
    clock.now += 100  # 10 drained at 6 per minute
    assert await counter.take([(RPM, 10)]) == []
