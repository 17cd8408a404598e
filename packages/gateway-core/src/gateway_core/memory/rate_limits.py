"""The token bucket of ``ports.rate_limits``, for one process.

The arithmetic mirrors the Redis Lua script line for line (``gateway_adapters.stores.redis.
rate_limits``): time in whole milliseconds, and a bucket's fill counted in "scaled units" where
one unit of allowance is ``period_ms`` scaled units. Refilling ``limit`` units per ``period_ms``
is then exactly ``limit`` scaled units per millisecond, so every number is an integer and no
rounding can admit one request too many or make a ``retry_after`` lie.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gateway_core.ports.clock import Clock
from gateway_core.ports.rate_limits import (
    BucketState,
    Charge,
    RateLimitDecision,
    is_valid_identity,
)

_SWEEP_EVERY = 1024
"""Acquisitions between sweeps that drop full (idle) buckets, so memory follows live clients."""


@dataclass(slots=True)
class _Bucket:
    used: int
    """Scaled units taken and not yet refilled, as of ``at``; may exceed the capacity (debt)."""
    at: int
    limit: int


def refilled(bucket: _Bucket | None, limit: int, now_ms: int) -> int:
    """Scaled units still used at ``now_ms`` (0 = full bucket)."""
    if bucket is None:
        return 0
    elapsed = max(0, now_ms - bucket.at)
    return max(0, bucket.used - elapsed * limit)


def bucket_state(used: int, charge: Charge) -> tuple[int, int, int]:
    """(remaining units, ms until full, ms until ``charge`` fits) for a bucket at ``used``."""
    period = charge.period_ms
    capacity = charge.limit * period
    cost = min(charge.cost, charge.limit) * period
    remaining = max(0, (capacity - used) // period)
    reset_ms = -(-used // charge.limit)  # ceil division, exact on integers
    wait_ms = max(0, -(-(used + cost - capacity) // charge.limit))
    return remaining, reset_ms, wait_ms


def _seconds(milliseconds: int) -> float:
    return milliseconds / 1000


class InMemoryRateLimitStore:
    """A ``RateLimitStore`` for one process. Atomic because it never awaits mid-decision."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._acquisitions = 0

    def _now_ms(self) -> int:
        return math.floor(self._clock.now() * 1000 + 0.5)

    async def acquire(self, identity: str, charges: Sequence[Charge]) -> RateLimitDecision:
        _check_identity(identity)
        now = self._now_ms()
        used = [refilled(self._buckets.get((identity, c.bucket)), c.limit, now) for c in charges]
        fits = [bucket_state(u, c)[2] == 0 for u, c in zip(used, charges, strict=True)]
        allowed = all(fits)
        states = []
        for index, charge in enumerate(charges):
            if allowed:
                used[index] += min(charge.cost, charge.limit) * charge.period_ms
                self._save(identity, charge, used[index], now)
            remaining, reset_ms, wait_ms = bucket_state(used[index], charge)
            states.append(
                BucketState(
                    limit=charge.limit,
                    remaining=remaining,
                    reset_after=_seconds(reset_ms),
                    retry_after=0.0 if allowed else _seconds(wait_ms),
                )
            )
        self._maybe_sweep(now)
        return RateLimitDecision(allowed=allowed, buckets=tuple(states))

    async def adjust(self, identity: str, charge: Charge) -> None:
        _check_identity(identity)
        now = self._now_ms()
        used = refilled(self._buckets.get((identity, charge.bucket)), charge.limit, now)
        self._save(identity, charge, max(0, used + charge.cost * charge.period_ms), now)

    def _save(self, identity: str, charge: Charge, used: int, now: int) -> None:
        key = (identity, charge.bucket)
        if used <= 0:
            self._buckets.pop(key, None)  # a full bucket is the same as no bucket
        else:
            self._buckets[key] = _Bucket(used=used, at=now, limit=charge.limit)

    def _maybe_sweep(self, now: int) -> None:
        self._acquisitions += 1
        if self._acquisitions % _SWEEP_EVERY:
            return
        idle = [key for key, b in self._buckets.items() if refilled(b, b.limit, now) == 0]
        for key in idle:
            del self._buckets[key]


def _check_identity(identity: str) -> None:
    if not is_valid_identity(identity):
        raise ValueError("invalid rate-limit identity (letters, digits and ':._-' only)")
