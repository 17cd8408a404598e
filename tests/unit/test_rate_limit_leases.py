"""``LeasedRateLimitStore``: local admissions from leases, never more than the limits allow."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.memory.rate_limits import InMemoryRateLimitStore
from gateway_core.ports.rate_limits import Charge, RateLimitDecision
from gateway_core.testing import FakeClock
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.rate_limit import RateLimiter, RateLimits
from gateway_core.use_cases.rate_limit_leases import LeasedRateLimitStore

IDENTITY = "key:lease-test"


class CountingStore:
    """The shared store, counting round trips and the units it debited."""

    def __init__(self, clock: FakeClock) -> None:
        self.inner = InMemoryRateLimitStore(clock)
        self.round_trips = 0
        self.debited = 0
        self.refusals = 0
        self.adjusted = 0

    async def acquire(self, identity: str, charges: Sequence[Charge]) -> RateLimitDecision:
        self.round_trips += 1
        await asyncio.sleep(0)  # a round trip: other requests run meanwhile
        decision = await self.inner.acquire(identity, charges)
        if decision.allowed:
            self.debited += charges[0].cost
        else:
            self.refusals += 1
        return decision

    async def adjust(self, identity: str, charge: Charge) -> None:
        self.adjusted += charge.cost
        await self.inner.adjust(identity, charge)


def requests(limit: int, cost: int = 1) -> list[Charge]:
    return [Charge("requests", limit, 60.0, cost)]


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_limit_under_100_per_period_never_leases_every_admission_asks_the_store() -> None:
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01)

    async def scenario() -> list[bool]:
        return [(await leased.acquire(IDENTITY, requests(50))).allowed for _ in range(60)]

    admitted = run(scenario())
    assert admitted == [True] * 50 + [False] * 10
    assert shared.round_trips == 60 and leased.local_admissions == 0


def test_far_from_the_limit_admissions_come_from_a_lease_with_exact_remaining_counts() -> None:
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01)

    async def scenario() -> list[RateLimitDecision]:
        return [await leased.acquire(IDENTITY, requests(10_000)) for _ in range(101)]

    decisions = run(scenario())
    assert all(decision.allowed for decision in decisions)
    # The first is exact (nothing seen yet); the second takes itself plus a lease of 100 units
    # (1% of 10,000), which admits the next 99 and leaves one; none needs the store.
    assert shared.round_trips == 2 and leased.local_admissions == 99
    assert [d.buckets[0].remaining for d in decisions] == [10_000 - n for n in range(1, 102)]
    assert shared.debited == 102  # 101 admitted + 1 leased unit not yet spent


def test_a_lease_expires_after_its_share_of_the_period_and_the_store_is_asked_again() -> None:
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01)

    async def scenario() -> None:
        await leased.acquire(IDENTITY, requests(10_000))
        await leased.acquire(IDENTITY, requests(10_000))  # takes the lease (life: 0.6 s)
        clock.advance(0.5)
        await leased.acquire(IDENTITY, requests(10_000))
        assert shared.round_trips == 2
        clock.advance(0.2)
        await leased.acquire(IDENTITY, requests(10_000))
        assert shared.round_trips == 3

    run(scenario())


def test_near_the_limit_every_admission_is_a_store_round_trip() -> None:
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01)

    async def scenario() -> None:
        # Another replica spent 60% of the allowance: below half full, no more leases.
        for _ in range(6):
            await shared.inner.acquire(IDENTITY, requests(1_000, cost=100))
        before = shared.round_trips
        for _ in range(20):
            assert (await leased.acquire(IDENTITY, requests(1_000))).allowed
        assert shared.round_trips - before == 20 and leased.local_admissions == 0

    run(scenario())


def test_changed_limits_drop_the_lease() -> None:
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01)

    async def scenario() -> None:
        await leased.acquire(IDENTITY, requests(10_000))
        await leased.acquire(IDENTITY, requests(10_000))
        trips = shared.round_trips
        await leased.acquire(IDENTITY, requests(20_000))  # the key's limit was raised
        assert shared.round_trips == trips + 1

    run(scenario())


def test_fraction_zero_turns_leasing_off() -> None:
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.0)

    async def scenario() -> None:
        for _ in range(30):
            await leased.acquire(IDENTITY, requests(100_000))

    run(scenario())
    assert shared.round_trips == 30 and leased.local_admissions == 0


@settings(max_examples=150, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=5_000),
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2),  # which replica asks
            st.integers(min_value=1, max_value=40),  # its cost
            st.integers(min_value=0, max_value=900),  # ms before it asks
        ),
        min_size=1,
        max_size=300,
    ),
)
def test_replicas_with_leases_never_admit_more_than_the_shared_store_debited(
    limit: int, steps: list[tuple[int, int, int]]
) -> None:
    """Three replicas, one shared bucket: whatever the order, costs and timing, every unit a
    replica admits was debited in the store first, and every refusal is the store's own."""
    clock = FakeClock()
    shared = CountingStore(clock)
    replicas = [LeasedRateLimitStore(shared, clock, fraction=0.05) for _ in range(3)]

    async def scenario() -> None:
        admitted = 0
        for replica, cost, wait_ms in steps:
            clock.advance(wait_ms / 1000)
            refusals = shared.refusals
            decision = await replicas[replica].acquire(IDENTITY, requests(limit, min(cost, limit)))
            if decision.allowed:
                admitted += min(cost, limit)
            else:
                assert shared.refusals > refusals  # the store refused, not the lease
                assert decision.retry_after > 0
            assert admitted <= shared.debited

    run(scenario())


def test_adjustments_settle_against_a_live_lease_and_only_the_rest_reaches_the_store() -> None:
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01)
    tokens = Charge("tokens", 100_000, 60.0, 600)  # a lease is 1,000 tokens

    async def remaining() -> int:
        probe = await shared.inner.acquire(IDENTITY, [Charge("tokens", 100_000, 60.0, 0)])
        return probe.buckets[0].remaining

    async def scenario() -> None:
        await leased.acquire(IDENTITY, [tokens])
        await leased.acquire(IDENTITY, [tokens])  # 600 + a 1,000-token lease
        in_store = await remaining()
        assert in_store == 100_000 - 600 - 600 - 1_000
        # The request used 50 tokens, not 600; the lease is full (1,000, its size), so the 550
        # given back go to the store.
        await leased.adjust(IDENTITY, replace(tokens, cost=-550))
        assert await remaining() == in_store + 550
        # One that used 200 more than reserved pays it from the lease: no store change; then
        # 300 given back refill the lease to its size and the other 100 reach the store.
        await leased.adjust(IDENTITY, replace(tokens, cost=200))
        assert await remaining() == in_store + 550
        await leased.adjust(IDENTITY, replace(tokens, cost=-300))
        assert await remaining() == in_store + 650
        # Once the lease expired everything goes to the store.
        clock.advance(1)
        before = await remaining()
        await leased.adjust(IDENTITY, replace(tokens, cost=-100))
        assert await remaining() == min(100_000, before + 100)

    run(scenario())


def test_a_burst_that_finds_no_lease_takes_one_lease_not_one_each() -> None:
    """Thirty-two concurrent requests miss together: one takes the lease, the others ask the
    store for themselves; the bucket stays above half full, so leasing goes on afterwards."""
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01)

    async def scenario() -> None:
        await leased.acquire(IDENTITY, requests(10_000))  # seen: far from the limit
        burst = await asyncio.gather(
            *(leased.acquire(IDENTITY, requests(10_000)) for _ in range(32))
        )
        assert all(decision.allowed for decision in burst)
        assert shared.debited == 1 + 32 + 100  # one lease of 1% among them, not 32
        trips = shared.round_trips
        for _ in range(50):
            await leased.acquire(IDENTITY, requests(10_000))
        assert shared.round_trips == trips  # served from that lease

    run(scenario())


async def _settle(background: BackgroundTasks) -> None:
    await background.drain(1.0)


def test_a_lease_is_renewed_in_the_background_before_it_runs_out() -> None:
    """With a background owner, a client that keeps coming is admitted locally without pause:
    past half its life the lease is topped up by a background round trip, not by a request."""
    clock = FakeClock()
    shared = CountingStore(clock)
    background = BackgroundTasks()
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01, background=background)

    async def scenario() -> None:
        await leased.acquire(IDENTITY, requests(10_000))  # exact: nothing seen yet
        await leased.acquire(IDENTITY, requests(10_000))  # takes a lease of 100 (life 0.6 s)
        assert shared.round_trips == 2
        for _ in range(30):  # 3 s of 10 requests a second: five lease lives
            clock.advance(0.1)
            before = shared.round_trips
            decision = await leased.acquire(IDENTITY, requests(10_000))
            assert decision.allowed
            assert shared.round_trips == before  # never a round trip on the request's path
            await _settle(background)
        assert leased.local_admissions == 30
        # Every unit admitted or held in the lease was debited in the store first.
        assert shared.debited >= 32

    run(scenario())


class CountingBackground(BackgroundTasks):
    started = 0

    def run(self, coroutine):  # type: ignore[no-untyped-def]
        self.started += 1
        return super().run(coroutine)


def test_once_a_renewal_sees_the_limit_near_leasing_stops_and_every_admission_asks() -> None:
    clock = FakeClock()
    shared = CountingStore(clock)
    background = CountingBackground()
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01, background=background)

    async def scenario() -> list[tuple[int, int]]:
        await leased.acquire(IDENTITY, requests(10_000))
        await leased.acquire(IDENTITY, requests(10_000))  # a lease of 100
        # Another replica spends 60%: the bucket is below half full. The next renewal (on the
        # figure last seen) still tops the lease up; its answer shows the bucket, and leasing
        # stops: once the lease is spent, each admission is one round trip of its own.
        await shared.inner.acquire(IDENTITY, requests(10_000, cost=6_000))
        steps = []
        for _ in range(250):
            trips, debited = shared.round_trips, shared.debited
            assert (await leased.acquire(IDENTITY, requests(10_000))).allowed
            await _settle(background)
            steps.append((shared.round_trips - trips, shared.debited - debited))
        return steps

    steps = run(scenario())
    assert steps[-50:] == [(1, 1)] * 50
    # One renewal that topped the lease up, one that found the limit near; then none.
    assert background.started == 2


def test_replicas_renewing_in_the_background_stay_within_what_the_store_debited() -> None:
    """Two replicas racing their renewals against a shared bucket near its limit: every unit
    admitted was debited in the store first."""
    clock = FakeClock()
    shared = CountingStore(clock)
    background = BackgroundTasks()
    replicas = [
        LeasedRateLimitStore(shared, clock, fraction=0.05, background=background) for _ in range(2)
    ]

    async def scenario() -> None:
        admitted = 0
        for step in range(400):
            clock.advance(0.01)
            decision = await replicas[step % 2].acquire(IDENTITY, requests(200))
            admitted += decision.allowed
            assert admitted <= shared.debited
            if step % 7 == 0:
                await _settle(background)
        await _settle(background)
        assert admitted <= shared.debited

    run(scenario())


def test_a_reconciliation_the_lease_takes_is_settled_at_once_without_a_task() -> None:
    """``RateLimiter.settle``: far from the limits the token estimate's error is settled
    against the lease in the call itself; only what the lease cannot take is left to run."""
    clock = FakeClock()
    shared = CountingStore(clock)
    leased = LeasedRateLimitStore(shared, clock, fraction=0.01)
    limiter = RateLimiter(leased, defaults=RateLimits(tokens_per_minute=1_000_000))

    async def scenario() -> None:
        await limiter.admit(IDENTITY, estimated_tokens=500)  # exact: nothing seen yet
        admission = await limiter.admit(IDENTITY, estimated_tokens=500)  # a 10,000-token lease
        spent = await limiter.admit(IDENTITY, estimated_tokens=5_000)  # from the lease
        assert leased.local_admissions == 1
        assert limiter.settle(spent, 4_000) is None  # 1,000 given back: the lease takes them
        rest = limiter.settle(admission, 600)  # 100 more owed: taken from the lease too
        assert rest is None
        assert shared.adjusted == 0
        # 5,000 given back to a lease 4,100 short of full: the other 900 are a store round
        # trip, left to the caller.
        rest = limiter.settle(spent, 0)
        assert rest is not None and shared.adjusted == 0
        await rest
        assert shared.adjusted == -900

    run(scenario())
