"""The turn log's keys and its atomic Lua scripts. Times (ms) are passed in by the caller.

Keys, with `p` the prefix:
- `p:lease:S:T`       the producer's lease of turn T of session S (value: its token)
- `p:events:S:T`      the turn's stream: entry `i=-1 info=…`, then `i=<index> e=<event>` …
                      and last `e={"k":"end"…}`; bounded, and expiring once unattended
- `p:followed:S:T`    set (short-lived) while a follower on another server reads the turn
- `p:running`         sorted set of every running turn ("S T"), scored by its lease's expiry:
                      the deployment-wide cap
- `p:session:S:running`  hash T -> "<start ms> <info>" of the session's running turns
- `p:session:S:turns`    stream of the session's turn starts (`info=…`) and `closed=1`
A single Redis primary (with replicas for failover) is assumed, not Redis Cluster: the scripts
touch keys of several turns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TurnKeys:
    lease: str
    events: str
    followed: str
    running: str
    session_running: str
    session_turns: str
    member: str


def turn_keys(prefix: str, session_id: str, turn_id: str) -> TurnKeys:
    s = f"{session_id}:{turn_id}"
    return TurnKeys(
        lease=f"{prefix}:lease:{s}",
        events=f"{prefix}:events:{s}",
        followed=f"{prefix}:followed:{s}",
        running=f"{prefix}:running",
        session_running=f"{prefix}:session:{session_id}:running",
        session_turns=f"{prefix}:session:{session_id}:turns",
        member=f"{session_id} {turn_id}",
    )


def session_keys(prefix: str, session_id: str) -> tuple[str, str]:
    """The session's running hash and its stream of turn starts."""
    return f"{prefix}:session:{session_id}:running", f"{prefix}:session:{session_id}:turns"


# The index of a stream's last entry (-1 for the info entry, or none).
_LAST_INDEX = """
local function last_index(key)
  local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if #top == 0 then return nil end
  return tonumber(top[1][2][2]), top[1][2][4]
end
"""

# Frees the slots of turns whose lease expired (their server died), and forgets them as
# running in their session.
_PRUNE = """
local function prune(running, prefix, now)
  local expired = redis.call('ZRANGEBYSCORE', running, '-inf', now)
  for _, m in ipairs(expired) do
    local sp = string.find(m, ' ', 1, true)
    redis.call('HDEL', prefix .. ':session:' .. string.sub(m, 1, sp - 1) .. ':running',
               string.sub(m, sp + 1))
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', running, '-inf', now) end
end
"""

# KEYS lease events running session_running session_turns
# ARGV token now lease_ms max_running member turn_id info events_ttl session_ttl prefix maxlen
# -> 1 started, 0 claimed already, -1 at the cap
START = (
    _PRUNE
    + """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
local now = tonumber(ARGV[2])
prune(KEYS[3], ARGV[10], now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[5])
redis.call('XADD', KEYS[2], '*', 'i', -1, 'info', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('HSET', KEYS[4], ARGV[6], ARGV[2] .. ' ' .. ARGV[7])
redis.call('PEXPIRE', KEYS[4], ARGV[9])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[11], '*', 'info', ARGV[7])
redis.call('PEXPIRE', KEYS[5], ARGV[9])
return 1
"""
)

# Appends events (fenced: only the lease's holder), skipping indexes already recorded (a write
# whose reply was lost is retried); a lease that expired while Redis could not be reached is
# taken back when nobody wrote since. With release=1 the turn ended: lease, slot and running
# entry go, and the stream expires after the resume window.
# KEYS lease events running session_running
# ARGV token maxlen ttl release member turn_id lease_ms first_index payload...
# -> 1 written, -1 the lease belongs to someone else (the turn was taken over)
FLUSH = (
    _LAST_INDEX
    + """
local first = tonumber(ARGV[8])
local holder = redis.call('GET', KEYS[1])
local last = last_index(KEYS[2])
if holder ~= ARGV[1] then
  if holder or last == nil or last ~= first - 1 then return -1 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[7])
end
last = last or -1
for n = 9, #ARGV do
  local index = first + n - 9
  if index > last then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'i', index, 'e', ARGV[n])
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[3], ARGV[5])
  redis.call('HDEL', KEYS[4], ARGV[6])
end
return 1
"""
)

# Renews every lease of a server in one call and keeps its followers' marks alive. A lease
# that expired while Redis could not be reached is taken back when nobody wrote since.
# KEYS running
# ARGV now lease_ms events_ttl followed_ttl n, then n x (lease events member token last_index),
#      then the followed keys
# -> the positions (1-based) of the turns this server lost
HEARTBEAT = (
    _LAST_INDEX
    + """
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = tonumber(ARGV[5])
local lost = {}
for w = 0, n - 1 do
  local a = 6 + w * 5
  local holder = redis.call('GET', ARGV[a])
  local mine = holder == ARGV[a + 3]
  if not holder then
    local last = last_index(ARGV[a + 1])
    if last ~= nil and last == tonumber(ARGV[a + 4]) then
      redis.call('SET', ARGV[a], ARGV[a + 3], 'PX', lease)
      mine = true
    end
  end
  if mine then
    redis.call('PEXPIRE', ARGV[a], lease)
    redis.call('ZADD', KEYS[1], now + lease, ARGV[a + 2])
    redis.call('PEXPIRE', ARGV[a + 1], ARGV[3])
  else
    table.insert(lost, w + 1)
  end
end
for f = 6 + n * 5, #ARGV do
  redis.call('SET', ARGV[f], '1', 'PX', ARGV[4])
end
return lost
"""
)

# Claims a turn whose producer's lease expired and that did not end; returns its recorded
# entries (nil when someone holds the lease, nothing is recorded, it ended, or it is not
# resumable). The session's watchers learn of it again.
# KEYS lease events running session_running session_turns
# ARGV token now lease_ms member turn_id events_ttl session_ttl maxlen
TAKE_OVER = (
    _LAST_INDEX
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return nil end
local last, payload = last_index(KEYS[2])
if last == nil then return nil end
if payload ~= nil and last >= 0 and cjson.decode(payload)['k'] == 'end' then return nil end
local entries = redis.call('XRANGE', KEYS[2], '-', '+')
local info = entries[1][2][4]
if entries[1][2][2] ~= '-1' or cjson.decode(info)['r'] == false then return nil end
local now = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[2] .. ' ' .. info)
redis.call('PEXPIRE', KEYS[4], ARGV[7])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[8], '*', 'info', info)
return entries
"""
)
