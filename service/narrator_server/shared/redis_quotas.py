"""`QuotaCounter` on Redis: one count per bucket, shared by every server, so that N replicas do
not multiply a limit. The same rules as the in-process counter (`quotas.local`), as atomic
scripts with the time passed in: a rolling bucket drains at `capacity / 60` per second, a fixed
one counts until its window's end. Each bucket's key expires once it holds nothing (counted
from the time passed in, so the servers' clocks and Redis's need not agree).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..core.quotas import Denial
from .redis_client import translated

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..core.quotas import Charge
    from .redis_client import Redis

# The amount a bucket holds now. ARGV of each charge: capacity, amount, resets_at ('' rolling).
_USED = """
local function used(key, capacity, resets_at, now)
  local u = tonumber(redis.call('HGET', key, 'u') or '0')
  local at = tonumber(redis.call('HGET', key, 't') or tostring(now))
  if resets_at then
    if now < resets_at then return u end
    return 0
  end
  return math.max(0, u - (now - at) * capacity / 60)
end
local function write(key, value, capacity, resets_at, now)
  redis.call('HSET', key, 'u', tostring(value), 't', tostring(now))
  local empty_at = resets_at or (now + value * 60 / capacity)
  redis.call('PEXPIRE', key, math.max(1, math.ceil((empty_at - now) * 1000)) + 1000)
end
local function charge(n)
  local a = 2 + (n - 1) * 3
  return tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
end
"""

# KEYS: the buckets; ARGV: now, then per charge capacity, amount, resets_at ('' = rolling).
# -> {} when every charge was taken, else {position, seconds to wait} of each refused one
TAKE = (
    _USED
    + """
local now = tonumber(ARGV[1])
local denied, current = {}, {}
for n = 1, #KEYS do
  local capacity, amount, resets_at = charge(n)
  local u = used(KEYS[n], capacity, resets_at, now)
  current[n] = u
  if u + math.min(amount, capacity) > capacity then
    local wait
    if resets_at then wait = math.max(0, resets_at - now)
    else wait = (u + math.min(amount, capacity) - capacity) * 60 / capacity end
    table.insert(denied, {n, tostring(wait)})
  end
end
if #denied > 0 then return denied end
for n = 1, #KEYS do
  local capacity, amount, resets_at = charge(n)
  write(KEYS[n], current[n] + amount, capacity, resets_at, now)
end
return denied
"""
)

# Same arguments; adds each amount (negative gives back), unchecked.
ADJUST = (
    _USED
    + """
local now = tonumber(ARGV[1])
for n = 1, #KEYS do
  local capacity, amount, resets_at = charge(n)
  if not (resets_at and now >= resets_at) then
    write(KEYS[n], math.max(0, used(KEYS[n], capacity, resets_at, now) + amount),
          capacity, resets_at, now)
  end
end
return 1
"""
)


class RedisQuotaCounter:
    def __init__(
        self, redis: Redis, prefix: str = "narrator", clock: Callable[[], float] = time.time
    ) -> None:
        self._prefix = prefix
        self._clock = clock
        self._take = redis.register_script(TAKE)
        self._adjust = redis.register_script(ADJUST)

    def _call(self, charges: Sequence[Charge]) -> tuple[list[str], list[str | float | int]]:
        keys = [f"{self._prefix}:quota:{limit.bucket}" for limit, _ in charges]
        args: list[str | float | int] = [repr(self._clock())]
        for limit, amount in charges:
            resets = "" if limit.resets_at is None else repr(limit.resets_at)
            args += [limit.capacity, amount, resets]
        return keys, args

    async def take(self, charges: Sequence[Charge]) -> list[Denial]:
        if not charges:
            return []
        keys, args = self._call(charges)
        with translated():
            denied = await self._take(keys=keys, args=args)
        return [Denial(charges[int(n) - 1][0], float(wait)) for n, wait in denied]

    async def adjust(self, charges: Sequence[Charge]) -> None:
        if not charges:
            return
        keys, args = self._call(charges)
        with translated():
            await self._adjust(keys=keys, args=args)
