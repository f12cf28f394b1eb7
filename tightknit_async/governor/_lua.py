"""The Redis governor's Lua scripts: each runs atomically inside Redis, on Redis's own clock.

State of one API key (``P`` = ``tightknit:{tag}``), both expiring a minute after the last
booked slot or pause::

    P:gov        hash   tat, last, cold, paused, low, climb, decreased, streak, wake, trimmed
    P:gov:log    list   the most recent booked slots as logged, in booking order (<= 2 * limit)
    P:gov:bulkq  zset   bulk bookers waiting for bulk's share -> when they were first refused
    P:gov:bulks  zset   the same bookers -> when they last asked (to drop those gone)

Times are microseconds on ``TIME`` (Redis's clock), written with ``%.3f``. The arithmetic is the
in-process core's (:mod:`._gcra`) with ``since = now``, the log holding ``slot + cold_margin``
for the slots of a cold start: the key's (nothing booked for a window) as in the core, or the
booking process's own (it sent nothing for a window, so it opens new connections even while the
other processes keep the key busy). The lanes and the bulk horizon are explained in
:mod:`._redis_schedule`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BOOK", "MERGE", "PAUSE", "RELEASE"]

_PRELUDE: Final = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local function fmt(x) return string.format('%.3f', x) end
local function expire(state, log, horizon)
  local ttl = math.floor((math.max(horizon, now) - now) / 1000) + 60000
  redis.call('PEXPIRE', state, ttl)
  redis.call('PEXPIRE', log, ttl)
end
local function rate_at(rate, low, climb, recovery)
  if low >= rate then return rate end
  return math.min(rate, low + recovery * rate * math.max(0, now - climb) / 1000000)
end
"""

BOOK: Final = (
    _PRELUDE
    + """
-- KEYS: state, log, bulk queue, bulk seen. ARGV: lane ('i' or 'b'), rate, limit, span, tau,
-- recovery, horizon, bulk_every, cold_margin, the asking process's cold window (from now), the
-- booker's id, then one max_wait per slot wanted (-1: none). Times in microseconds.
-- Returns {now, paused, rate in force, wake, one item per slot}: 's<slot>|<logged>' booked,
-- 'r<slot>' refused (the slot lay beyond max_wait; nothing booked). A bulk booking that would
-- land beyond the horizon stops there and returns the time to ask again as 'wake'.
local state, log = KEYS[1], KEYS[2]
local lane = ARGV[1]
local rate, limit, span = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tau, recovery = tonumber(ARGV[5]), tonumber(ARGV[6])
local horizon, bulk_every = tonumber(ARGV[7]), tonumber(ARGV[8])
local cold_margin, process_cold = tonumber(ARGV[9]), now + tonumber(ARGV[10])
local queue, seen, me = KEYS[3], KEYS[4], ARGV[11]
local h = redis.call('HMGET', state, 'tat', 'paused', 'low', 'climb', 'streak', 'wake',
  'trimmed', 'last', 'cold')
local tat, paused = tonumber(h[1]) or 0, tonumber(h[2]) or 0
local low, climb = tonumber(h[3]) or rate, tonumber(h[4]) or 0
local streak, wake, trimmed = tonumber(h[5]) or 0, tonumber(h[6]) or 0, h[7] or '0'
local last, cold = tonumber(h[8]) or 0, tonumber(h[9]) or 0
local r = rate_at(rate, low, climb, recovery)
local interval = math.max(1000000 / r, span / limit)
local win = {}
for i, v in ipairs(redis.call('LRANGE', log, -limit, -1)) do win[i] = tonumber(v) end
-- Bulk's share goes to the bulk booker refused longest ago (round robin between processes);
-- one that has not asked for three re-check periods is gone.
local share_for = nil
if lane == 'b' then
  local gone = now - 3 * bulk_every * interval
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', seen, '-inf', gone)) do
    redis.call('ZREM', queue, id)
    redis.call('ZREM', seen, id)
  end
  share_for = redis.call('ZRANGE', queue, 0, 0)[1] or me
end
local out, pushed, wake_out = {}, {}, ''
for i = 12, #ARGV do
  local max_wait = tonumber(ARGV[i])
  local n = #win
  local earliest = math.max(tat - tau, paused, last)
  if n >= limit then earliest = math.max(earliest, win[n - limit + 1] + span) end
  local slot = math.max(now, earliest)
  if max_wait >= 0 and slot - now > max_wait then
    out[#out + 1] = 'r' .. fmt(slot)
  elseif lane == 'b' and slot - now > horizon and (streak < bulk_every - 1 or share_for ~= me) then
    -- Ask again once the slot is within the horizon (sooner while interactive bookings hold
    -- the schedule, to claim bulk's share), one interval after the last bulk booker told to
    -- wait, so that refused processes come back staggered rather than all at once.
    wake = math.max(math.min(slot - horizon, now + bulk_every * interval), wake + interval)
    wake_out = fmt(wake)
    redis.call('ZADD', queue, 'NX', now, me)
    redis.call('ZADD', seen, now, me)
    break
  else
    tat = math.max(tat, earliest, now) + interval
    if slot - last >= 1000000 then cold = slot + 1000000 end
    last = slot
    local logged = slot
    if slot < cold or slot < process_cold then logged = slot + cold_margin end
    win[n + 1] = logged
    if n + 1 > limit then table.remove(win, 1) end
    pushed[#pushed + 1] = fmt(logged)
    out[#out + 1] = 's' .. fmt(slot) .. '|' .. pushed[#pushed]
    if lane == 'b' then
      streak = 0
      if slot - now > horizon then  -- took the share: to the back of the queue
        redis.call('ZREM', queue, me)
        redis.call('ZREM', seen, me)
        share_for = nil
      end
    else
      streak = streak + 1
    end
  end
end
if #pushed > 0 then
  redis.call('RPUSH', log, unpack(pushed))
  if redis.call('LLEN', log) > 2 * limit then
    redis.call('LTRIM', log, -2 * limit, -1)
    trimmed = '1'
  end
end
redis.call('HSET', state, 'tat', fmt(tat), 'streak', streak, 'wake', fmt(wake),
  'trimmed', trimmed, 'last', fmt(last), 'cold', fmt(cold))
local horizon_end = math.max(tat, paused, wake, win[#win] or 0)
expire(state, log, horizon_end)
if lane == 'b' then expire(queue, seen, horizon_end) end
return {fmt(now), fmt(paused), string.format('%.6f', r), wake_out, unpack(out)}
"""
)

PAUSE: Final = (
    _PRELUDE
    + """
-- KEYS: state, log. ARGV: pause, rate, decrease, min_rate, recovery, tau, channel.
-- A 429: pause every booking until now + pause, lower the rate (once per second at most),
-- publish '<paused> <now>' on the channel. Returns {now, paused, rate in force}.
local state, log = KEYS[1], KEYS[2]
local pause, rate, decrease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local min_rate, recovery, tau = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local h = redis.call('HMGET', state, 'tat', 'paused', 'low', 'climb', 'decreased')
local tat, paused = tonumber(h[1]) or 0, tonumber(h[2]) or 0
local low, climb = tonumber(h[3]) or rate, tonumber(h[4]) or 0
local decreased = tonumber(h[5]) or 0
local r = rate_at(rate, low, climb, recovery)
if now - decreased >= 1000000 then
  r = math.max(math.min(rate, min_rate), r * decrease)
  decreased = now
end
paused = math.max(paused, now + pause)
tat = math.max(tat, paused + tau)
redis.call('HSET', state, 'tat', fmt(tat), 'paused', fmt(paused), 'low', string.format('%.6f', r),
  'climb', fmt(paused), 'decreased', fmt(decreased))
expire(state, log, math.max(tat, paused))
redis.call('PUBLISH', ARGV[7], fmt(paused) .. ' ' .. fmt(now))
return {fmt(now), fmt(paused), string.format('%.6f', r)}
"""
)

RELEASE: Final = (
    _PRELUDE
    + """
-- KEYS: state, log. ARGV: limit, rate, span, recovery, then slots handed back (as logged),
-- latest first. Undo each while it is still in the future and the latest booking of the key
-- (and the log keeps enough history to stay exact without it). Returns how many were undone.
local state, log = KEYS[1], KEYS[2]
local limit, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local span, recovery = tonumber(ARGV[3]), tonumber(ARGV[4])
local h = redis.call('HMGET', state, 'tat', 'low', 'climb', 'trimmed')
local tat, low, climb = tonumber(h[1]) or 0, tonumber(h[2]) or rate, tonumber(h[3]) or 0
local trimmed = h[4] or '0'
local interval = math.max(1000000 / rate_at(rate, low, climb, recovery), span / limit)
local undone = 0
for i = 5, #ARGV do
  if tonumber(ARGV[i]) <= now then break end
  local length = redis.call('LLEN', log)
  if length == 0 or (length <= limit and trimmed == '1') then break end
  if redis.call('LINDEX', log, -1) ~= ARGV[i] then break end
  redis.call('RPOP', log)
  tat = tat - interval
  undone = undone + 1
end
if undone > 0 then
  -- The slot before is at most its logged time: slots never go backwards from there.
  local previous = tonumber(redis.call('LINDEX', log, -1)) or 0
  redis.call('HSET', state, 'tat', fmt(tat), 'last', fmt(previous))
end
return undone
"""
)

MERGE: Final = (
    _PRELUDE
    + """
-- KEYS: state, log. ARGV: limit, then the ages (microseconds before now) of sends this
-- process made without Redis (its local fallback). They join the log, so bookings made now
-- respect them. Returns the log's length.
local state, log = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[1])
local times = {}
for _, v in ipairs(redis.call('LRANGE', log, 0, -1)) do times[#times + 1] = tonumber(v) end
for i = 2, #ARGV do times[#times + 1] = now - tonumber(ARGV[i]) end
table.sort(times)
local first = math.max(1, #times - 2 * limit + 1)
local kept = {}
for i = first, #times do kept[#kept + 1] = fmt(times[i]) end
redis.call('DEL', log)
if #kept > 0 then redis.call('RPUSH', log, unpack(kept)) end
if first > 1 then redis.call('HSET', state, 'trimmed', '1') end
expire(state, log, times[#times] or now)
return #kept
"""
)
