"""``RateLimitStore`` on Redis: one atomic Lua script per decision, on Redis's own clock.

Exact across any number of gateway replicas: the read, the decision and the write happen in one
script, which Redis runs alone, and time comes from ``redis.call('TIME')``, so the replicas'
clocks never matter. The arithmetic is the one of ``gateway_core.memory.rate_limits`` (see that
module and ``gateway_core.ports.rate_limits`` for the algorithm); the contract suite holds both
to the same numbers.

Key names: ``<prefix>:rl:{<identity>}:<bucket>``, a hash ``{used, at, limit}``. The identity is
a key id or a hashed client address, never a secret; the braces are a Redis Cluster hash tag,
so that one script's buckets live in one slot.

Buckets have no TTL, on purpose: Redis's ``volatile-*`` memory policies evict only keys that
have one (and ``volatile-ttl``, the documented policy, would evict these first, being the
shortest-lived), so memory pressure can never forget what a client spent and admit it again.
A bucket is deleted when an acquisition finds it full again, and ``sweep_full_buckets`` (run in
the background by every gateway process) deletes those nobody came back to.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from gateway_adapters.stores.redis.errors import translated_redis_errors
from gateway_core.ports.rate_limits import (
    BucketState,
    Charge,
    RateLimitDecision,
    is_valid_identity,
)

# Shared by both scripts. Why a token bucket: it starts full, so a client may spend its whole
# allowance at once, then refills continuously (no window edge to game). Units: time in
# milliseconds; a bucket's fill in "scaled units", one unit of allowance being period_ms of
# them, so refill is exactly `limit` scaled units per ms and every number stays an integer,
# exact in Lua's doubles (< 2^53).
_PRELUDE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function refilled(key, limit)
  local state = redis.call('HMGET', key, 'used', 'at')
  if not state[1] then return 0 end
  local elapsed = math.max(0, now - tonumber(state[2]))
  return math.max(0, tonumber(state[1]) - elapsed * limit)
end

local function save(key, used, limit)
  if used <= 0 then
    redis.call('DEL', key)  -- a full bucket is the same as no bucket
    return
  end
  -- '%.0f': Lua's own number-to-string switches to exponent form and drops digits.
  redis.call('HSET', key, 'used', string.format('%.0f', used), 'at', string.format('%.0f', now),
             'limit', limit)
end
"""

# KEYS: one bucket each. ARGV: limit, period_ms, cost for each key in turn (cost <= limit).
# Charges every bucket or none. Returns {allowed 0/1, then per bucket: remaining units,
# ms until full, ms until its cost fits}.
_ACQUIRE = (
    _PRELUDE
    + """
local used, allowed = {}, 1
for i, key in ipairs(KEYS) do
  local limit, period, cost = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  used[i] = refilled(key, limit)
  if used[i] + cost * period > limit * period then allowed = 0 end
end
local reply = {allowed}
for i, key in ipairs(KEYS) do
  local limit, period, cost = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  if allowed == 1 then
    used[i] = used[i] + cost * period
    save(key, used[i], limit)
  end
  local capacity = limit * period
  table.insert(reply, math.max(0, math.floor((capacity - used[i]) / period)))
  table.insert(reply, math.ceil(used[i] / limit))
  table.insert(reply, math.max(0, math.ceil((used[i] + cost * period - capacity) / limit)))
end
return reply
"""
)

# KEYS[1]: the bucket. ARGV: limit, period_ms, delta (signed units). Never rejects: a positive
# delta may leave the bucket in debt, which later acquisitions wait out.
_ADJUST = (
    _PRELUDE
    + """
local limit, period, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
save(KEYS[1], math.max(0, refilled(KEYS[1], limit) + delta * period), limit)
return 1
"""
)

# KEYS[1]: one bucket. Deletes it if it has refilled (full), atomically with the check. A bucket
# without 'limit' was written with a TTL by an earlier version: it expires by itself.
_SWEEP = (
    _PRELUDE
    + """
local state = redis.call('HMGET', KEYS[1], 'used', 'at', 'limit')
if not state[1] or not state[3] then return 0 end
if refilled(KEYS[1], tonumber(state[3])) > 0 then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""
)

_STORE_NAME = "rate-limit"


class RedisRateLimitStore:
    """A ``RateLimitStore`` shared by every gateway replica that uses the same Redis."""

    def __init__(self, client: Redis, key_prefix: str = "llmgw") -> None:
        self._client = client
        self._key_prefix = key_prefix
        # register_script: EVALSHA, loading the script (SCRIPT LOAD) again after a NOSCRIPT.
        self._acquire_script = client.register_script(_ACQUIRE)
        self._adjust_script = client.register_script(_ADJUST)
        self._sweep_script = client.register_script(_SWEEP)

    def key_name(self, identity: str, bucket: str) -> str:
        return f"{self._key_prefix}:rl:{{{identity}}}:{bucket}"

    async def acquire(self, identity: str, charges: Sequence[Charge]) -> RateLimitDecision:
        _check_identity(identity)
        if not charges:
            return RateLimitDecision(allowed=True, buckets=())
        keys = [self.key_name(identity, charge.bucket) for charge in charges]
        args: list[int] = []
        for charge in charges:
            args += [charge.limit, charge.period_ms, min(charge.cost, charge.limit)]
        with translated_redis_errors(_STORE_NAME):
            reply = await self._acquire_script(keys=keys, args=args)
        allowed = int(reply[0]) == 1
        buckets = tuple(
            BucketState(
                limit=charge.limit,
                remaining=int(reply[1 + 3 * index]),
                reset_after=int(reply[2 + 3 * index]) / 1000,
                retry_after=0.0 if allowed else int(reply[3 + 3 * index]) / 1000,
            )
            for index, charge in enumerate(charges)
        )
        return RateLimitDecision(allowed=allowed, buckets=buckets)

    async def adjust(self, identity: str, charge: Charge) -> None:
        _check_identity(identity)
        key = self.key_name(identity, charge.bucket)
        with translated_redis_errors(_STORE_NAME):
            args = [charge.limit, charge.period_ms, charge.cost]
            await self._adjust_script(keys=[key], args=args)


    async def sweep_full_buckets(self, batch: int = 500) -> int:
        """Delete every bucket that has refilled; returns how many. SCANs the keyspace (every
        primary on a Cluster) in steps of ``batch``, so Redis never blocks on it."""
        deleted = 0
        with translated_redis_errors(_STORE_NAME):
            async for key in self._client.scan_iter(match=f"{self._key_prefix}:rl:*", count=batch):
                deleted += int(await self._sweep_script(keys=[key]))
        return deleted


def _check_identity(identity: str) -> None:
    if not is_valid_identity(identity):
        raise ValueError("invalid rate-limit identity (letters, digits and ':._-' only)")
