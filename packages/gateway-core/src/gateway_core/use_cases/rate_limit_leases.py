"""Admission without a store round trip while a client is far from its limits: leases.

A shared store (Redis) decides every admission exactly, at the price of a network round trip
before the model is called. A client far from its limits cannot be refused anyway, so each
process may take a small *lease* along with a real acquisition (one round trip charging the
request's cost plus the lease's units) and admit the client's next requests from it locally.

The rules, chosen so that leases only ever change timing, never the limits:

- Units are debited in the store before they are spent: leases never admit more than the
  limits allow.
- A lease is taken only while every bucket, as last seen, would still be at least half full
  after it: near its limits a client gets a store round trip on every request, exactly as
  without leases. A lease is ``fraction`` of each bucket's limit; with the default 1%, a limit
  under 100 per period never leases at all.
- A lease lives ``fraction`` of the shortest period (0.6 s for a per-minute limit at 1%); what
  is left then is dropped, not given back, because the bucket refills that much in that time.
  So leases can refuse a client early by at most one lease per process per bucket, and only
  for about a lease's life.
- Adjustments (a request's token estimate settled against its real usage) go to a live lease
  of the same limits first: given-back units join it (up to its size), owed units come out of
  it, and only the rest is a store round trip.
- Refusals always come from the store (a local miss asks it), so ``retry_after`` stays exact.
  The ``remaining`` of a local admission is the bucket as last seen, plus what it refilled
  since (at most to its limit), plus the lease's units left: exact for one process, an
  estimate when several share the client.

- Renewed ahead (given a ``BackgroundTasks`` owner): once a local admission leaves a lease
  past half its life or below half its units, a top-up back to its size is debited in the
  store by a background task (one per client at a time), on the same rules as taking one. A
  client that keeps coming is then admitted locally without pause instead of paying a round
  trip every lease's life; the refusals and the limits are the same.

``fraction`` 0 turns leasing off: every acquisition is a store round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from gateway_core.errors import StoreUnavailableError
from gateway_core.ports.clock import Clock
from gateway_core.ports.rate_limits import (
    BucketState,
    Charge,
    RateLimitDecision,
    RateLimitStore,
)
from gateway_core.use_cases.background import BackgroundTasks

DEFAULT_LEASE_FRACTION = 0.01
_SWEEP_EVERY = 1024
"""Store round trips between sweeps that forget expired leases, so memory follows live clients."""

_Shape = tuple[tuple[str, int, int], ...]
"""(bucket, limit, period_ms) per charge: a lease serves only the limits it was taken under."""


@dataclass(slots=True)
class _Lease:
    shape: _Shape
    left: list[int]
    """Units per bucket debited in the store and not yet spent."""
    seen: list[int]
    """Each bucket's ``remaining`` in the store's last answer (lease units excluded)."""
    seen_at: float
    expires_at: float
    """Monotonic seconds; after it, ``left`` is dropped (``seen`` still guides the next lease)."""
    renew_at: float
    """Past it (half its life), a local admission has the lease renewed ahead of need."""
    low: tuple[int, ...]
    """Below these units (half a full lease) in a bucket, likewise."""


class LeasedRateLimitStore:
    """A ``RateLimitStore`` in front of another one (the shared store); see the module doc."""

    def __init__(
        self,
        store: RateLimitStore,
        clock: Clock,
        fraction: float = DEFAULT_LEASE_FRACTION,
        background: BackgroundTasks | None = None,
    ) -> None:
        if not 0 <= fraction <= 0.1:
            raise ValueError("the lease fraction is between 0 and 0.1 of a limit")
        self._store = store
        self._clock = clock
        self._fraction = fraction
        self._background = background
        """Where leases are renewed ahead of need; ``None``: renewed by the next miss only."""
        self._leases: dict[str, _Lease] = {}
        self._leasing: set[str] = set()
        """Clients with a lease-taking round trip in flight."""
        self._round_trips = 0
        self.local_admissions = 0
        """Admissions decided from a lease, without a store round trip (since start)."""

    async def acquire(self, identity: str, charges: Sequence[Charge]) -> RateLimitDecision:
        shape = tuple([(c.bucket, c.limit, c.period_ms) for c in charges])
        now = self._clock.monotonic()
        lease = self._leases.get(identity)
        if lease is not None and lease.shape != shape:
            lease = None  # the client's limits changed: start over
        if lease is not None and now < lease.expires_at and _covers(lease.left, charges):
            self.local_admissions += 1
            decision = _spend(lease, charges, now)
            if identity not in self._leasing and self._renewal_due(lease, now):
                self._renew_ahead(identity, shape, charges, now)
            return decision
        # One lease in flight per client: concurrent misses (a burst finding the lease spent)
        # ask the store for themselves only, instead of each taking a lease of its own.
        extras = self._extras(lease, charges, now) if identity not in self._leasing else None
        if extras is not None and any(extras):
            with_lease = [replace(c, cost=c.cost + e) for c, e in zip(charges, extras, strict=True)]
            self._leasing.add(identity)
            try:
                decision = await self._round_trip(identity, with_lease)
            finally:
                self._leasing.discard(identity)
            if decision.allowed:
                self._keep(identity, shape, charges, extras, decision, now)
                return _without_lease(decision, extras)
        decision = await self._round_trip(identity, charges)
        self._keep(identity, shape, charges, [0] * len(charges), decision, now)
        return decision

    async def adjust(self, identity: str, charge: Charge) -> None:
        """Settled against a live lease of the same limits when it can be (``absorb``); the
        rest goes to the store."""
        rest = self.absorb(identity, charge)
        if rest is not None:
            await self._store.adjust(identity, rest)

    def absorb(self, identity: str, charge: Charge) -> Charge | None:
        """The part of an adjustment a live lease of the same limits cannot take (``None``:
        all of it was taken, no store round trip). Units given back join the lease (up to its
        size), units owed come out of it. The reconciliation of a request's token estimate is
        then no store round trip, and no task either."""
        lease = self._leases.get(identity)
        shape = (charge.bucket, charge.limit, charge.period_ms)
        if lease is None or shape not in lease.shape or self._clock.monotonic() >= lease.expires_at:
            return charge
        index = lease.shape.index(shape)
        left = lease.left[index]
        if charge.cost < 0:
            settled = -min(-charge.cost, max(0, self._size(charge) - left))
        else:
            settled = min(charge.cost, left)
        lease.left[index] = left - settled
        if charge.cost == settled:
            return None
        return replace(charge, cost=charge.cost - settled)

    def _renewal_due(self, lease: _Lease, now: float) -> bool:
        """Past half its life, or below half its units in a bucket (and someone to renew it)."""
        if self._background is None:
            return False
        return now >= lease.renew_at or any(
            left < low for left, low in zip(lease.left, lease.low, strict=True)
        )

    def _renew_ahead(
        self, identity: str, shape: _Shape, charges: Sequence[Charge], now: float
    ) -> None:
        assert self._background is not None  # _renewal_due said so
        self._leasing.add(identity)
        self._background.run(self._renew(identity, shape, charges, now))

    async def _renew(
        self, identity: str, shape: _Shape, charges: Sequence[Charge], now: float
    ) -> None:
        """Top the client's lease up to its size (a background task; never raises). Nothing is
        spent by it: every charge costs only the units leased, refused or not as ever."""
        try:
            free = [replace(c, cost=0) for c in charges]
            lease = self._leases.get(identity)
            if lease is None or lease.shape != shape:
                return
            extras = self._extras(lease, free, now)
            if not any(extras):
                # Near a limit: this lease is spent out and misses ask the store, exactly; no
                # further renewal is tried for it (the next lease-taking round trip decides).
                lease.renew_at, lease.low = lease.expires_at, (0,) * len(lease.low)
                return
            leasing = [replace(c, cost=e) for c, e in zip(free, extras, strict=True)]
            try:
                decision = await self._round_trip(identity, leasing)
            except StoreUnavailableError:
                return  # the lease runs out; the next miss finds the store down or back
            lease = self._leases.get(identity)
            if lease is not None and lease.shape != shape:
                return  # the limits changed meanwhile: what was leased is dropped
            granted = extras if decision.allowed else [0] * len(free)
            self._keep(identity, shape, free, granted, decision, now)
        finally:
            self._leasing.discard(identity)

    def _size(self, charge: Charge) -> int:
        """A full lease of ``charge``'s bucket, in units (0: the limit is too small to lease)."""
        return int(charge.limit * self._fraction)

    def _extras(self, lease: _Lease | None, charges: Sequence[Charge], now: float) -> list[int]:
        """Units to lease per bucket (all zero: none), topping a live lease up to its size."""
        if lease is None or self._fraction == 0:
            return [0] * len(charges)  # nothing seen yet: the first acquisition is exact
        live = now < lease.expires_at
        extras = []
        for index, charge in enumerate(charges):
            size = self._size(charge)
            extra = max(0, size - (lease.left[index] if live else 0))
            seen = _refilled(lease.seen[index], charge, now - lease.seen_at)
            if size < 1 or seen - charge.cost - extra < charge.limit // 2:
                return [0] * len(charges)  # near a limit: no lease at all
            extras.append(extra)
        return extras

    def _keep(
        self,
        identity: str,
        shape: _Shape,
        charges: Sequence[Charge],
        extras: list[int],
        decision: RateLimitDecision,
        now: float,
    ) -> None:
        """Remember what the store said, and add any leased units to a live lease."""
        seen = [state.remaining for state in decision.buckets]
        left, expires_at = list(extras), now
        lease = self._leases.get(identity)
        if lease is not None and lease.shape == shape and now < lease.expires_at:
            left = [units + extra for units, extra in zip(lease.left, extras, strict=True)]
            expires_at = lease.expires_at
        life = self._fraction * min(c.period_ms for c in charges) / 1000
        if any(extras):
            expires_at = now + life
        low = tuple(self._size(c) // 2 for c in charges)
        self._leases[identity] = _Lease(
            shape, left, seen, now, expires_at, expires_at - life / 2, low
        )

    async def _round_trip(self, identity: str, charges: Sequence[Charge]) -> RateLimitDecision:
        self._round_trips += 1
        if self._round_trips % _SWEEP_EVERY == 0:
            self._forget_expired()
        return await self._store.acquire(identity, charges)

    def _forget_expired(self) -> None:
        """Expired leases only guide the next lease; one minute on, they guide nothing."""
        horizon = self._clock.monotonic() - 60.0
        stale = [key for key, lease in self._leases.items() if lease.seen_at < horizon]
        for key in stale:
            del self._leases[key]


def _covers(left: list[int], charges: Sequence[Charge]) -> bool:
    return all(units >= charge.cost for units, charge in zip(left, charges, strict=True))


def _refilled(remaining: int, charge: Charge, elapsed_s: float) -> int:
    refill = int(max(0.0, elapsed_s) * 1000 * charge.limit / charge.period_ms)
    return min(charge.limit, remaining + refill)


def _spend(lease: _Lease, charges: Sequence[Charge], now: float) -> RateLimitDecision:
    states = []
    for index, charge in enumerate(charges):
        lease.left[index] -= charge.cost
        refilled = _refilled(lease.seen[index], charge, now - lease.seen_at)
        remaining = min(charge.limit, refilled + lease.left[index])
        reset_after = (charge.limit - remaining) * charge.period_ms / charge.limit / 1000
        states.append(BucketState(charge.limit, remaining, reset_after, 0.0))
    return RateLimitDecision(allowed=True, buckets=tuple(states))


def _without_lease(decision: RateLimitDecision, extras: list[int]) -> RateLimitDecision:
    """The store's answer as the client sees it: the leased units are still its to spend."""
    buckets = tuple(
        replace(state, remaining=min(state.limit, state.remaining + extra))
        for state, extra in zip(decision.buckets, extras, strict=True)
    )
    return replace(decision, buckets=buckets)
