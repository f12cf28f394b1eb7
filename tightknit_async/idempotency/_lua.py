"""The Redis idempotency store's Lua scripts: each step of a keyed call is one script, one round
trip, atomic inside Redis.

Keys of one idempotency key ``K`` in a scope (``P`` = ``tightknit:{tag}``, see
:mod:`._redis_store`), all under one hash tag so the scripts also run on a cluster::

    P:idem:bind:K    the fingerprint the key is bound to
    P:idem:reply:K   the cached reply
    P:idem:lock:K    the claim holder's token

Scripts are sent with ``EVALSHA``; a server that does not know one yet (first use, a restart, a
``SCRIPT FLUSH``) answers ``NOSCRIPT`` and it is loaded and sent again (redis-py's ``Script``).
"""

from __future__ import annotations

from typing import Final

__all__ = ["BEGIN", "FINISH", "RENEW"]

BEGIN: Final = """
-- KEYS: binding, reply, lock. ARGV: fingerprint, ttl (ms), token, lease (ms), and '1' to look
-- past the reply (one the caller could not read: as if there were none).
-- Binds the key unless bound, then answers the first that holds of:
--   {'m', bound}   bound to another fingerprint (nothing else is touched)
--   {'r', reply}   a reply is kept
--   {'c'}          claimed: the lock now holds the token, for the lease
--   {'b'}          busy: another claim holds the lock
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local bound = redis.call('GET', KEYS[1])
  if bound and bound ~= ARGV[1] then return {'m', bound} end
end
if ARGV[5] ~= '1' then
  local reply = redis.call('GET', KEYS[2])
  if reply then return {'r', reply} end
end
if redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[4]) then return {'c'} end
return {'b'}
"""

FINISH: Final = """
-- KEYS: reply, lock. ARGV: token, channel, ttl (ms), then the reply to keep (none: nothing).
-- Keeps the reply, deletes the lock only if it still holds this token (a holder whose lease ran
-- out must not free the next holder's claim), and publishes 'put' (a reply landed) or
-- 'released' (the key is free) to wake the waiters. Returns kept + 2 * released.
local kept, released = 0, 0
if ARGV[4] then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
  kept = 1
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  released = 1
end
if kept == 1 then
  redis.call('PUBLISH', ARGV[2], 'put')
elseif released == 1 then
  redis.call('PUBLISH', ARGV[2], 'released')
end
return kept + 2 * released
"""

RENEW: Final = """
-- KEYS: lock. ARGV: token, lease (ms). Extends the lease if the lock still holds the token.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
