"""The ``RateLimitStore`` contract, run against every implementation (memory and real Redis).

Redis decides on its own clock (``TIME``), so the suite cannot stop time: each store comes with
a ``wait`` that moves its clock, a ``FakeClock`` for memory and a real (short) sleep for Redis.
Periods are one second so that the real waits stay short; the assertions leave room for the
milliseconds that really pass between two Redis calls.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot

from gateway_adapters.stores.redis.rate_limits import RedisRateLimitStore
from gateway_core.clock import SystemClock
from gateway_core.errors import StoreUnavailableError
from gateway_core.memory.rate_limits import InMemoryRateLimitStore
from gateway_core.ports.rate_limits import Charge, RateLimitStore
from gateway_core.testing import FakeClock
from gateway_core.use_cases.rate_limit_leases import LeasedRateLimitStore

REQUESTS = Charge("requests", limit=5, period=1.0)
TOKENS_100 = Charge("tokens", limit=100, period=1.0, cost=0)


def tokens(cost: int, limit: int = 100) -> Charge:
    return Charge("tokens", limit=limit, period=1.0, cost=cost)


@dataclass
class Subject:
    store: RateLimitStore
    wait: Callable[[float], Awaitable[None]]
    replicas: tuple[RateLimitStore, RateLimitStore]
    """Two stores sharing state: two Redis clients (two gateway replicas), or one memory store
    twice (a process-local store has nothing else to share with)."""


@pytest.fixture
async def second_redis_client(open_redis_client: Callable[[], Redis]) -> AsyncIterator[Redis]:
    client = open_redis_client()
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis", "leased-redis"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "memory":
        clock = FakeClock()

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        store = InMemoryRateLimitStore(clock)
        return Subject(store, advance, (store, store))
    prefix = request.getfixturevalue("key_prefix")
    first = RedisRateLimitStore(request.getfixturevalue("redis_client"), key_prefix=prefix)
    second = RedisRateLimitStore(request.getfixturevalue("second_redis_client"), key_prefix=prefix)
    if request.param == "leased-redis":
        # Leases ride on the real store with the production fraction: every decision here is
        # near enough to a limit (5 or 100 per second) that they must not change a thing.
        clock = SystemClock()
        first, second = LeasedRateLimitStore(first, clock), LeasedRateLimitStore(second, clock)
    return Subject(first, asyncio.sleep, (first, second))


async def test_a_whole_allowance_is_admitted_in_one_burst(subject: Subject) -> None:
    # A unit refills every 12 s, not every 0.2 s as REQUESTS': a burst slowed by a loaded
    # machine (a cluster client's first calls open its connections) cannot be refilled
    # between its calls, so only the store's atomicity decides what is admitted.
    burst = Charge("requests", limit=5, period=60.0)
    decisions = await asyncio.gather(*(subject.store.acquire("c", [burst]) for _ in range(7)))
    admitted = [d for d in decisions if d.allowed]
    assert len(admitted) == 5
    assert sorted(d.buckets[0].remaining for d in admitted) == [0, 1, 2, 3, 4]
    rejected = [d for d in decisions if not d.allowed]
    refill = burst.period / burst.limit
    assert all(0 < d.retry_after <= refill and d.buckets[0].remaining == 0 for d in rejected)


async def test_waiting_retry_after_gets_in(subject: Subject) -> None:
    for _ in range(5):
        assert (await subject.store.acquire("c", [REQUESTS])).allowed
    rejected = await subject.store.acquire("c", [REQUESTS])
    assert not rejected.allowed
    await subject.wait(rejected.retry_after)
    assert (await subject.store.acquire("c", [REQUESTS])).allowed


async def test_the_bucket_refills_continuously_and_fully(subject: Subject) -> None:
    slow = Charge("requests", limit=4, period=2.0)  # one unit per 0.5 s: room for slow runners
    for _ in range(4):
        last = await subject.store.acquire("c", [slow])
    assert 1.8 <= last.buckets[0].reset_after <= 2.0
    await subject.wait(1.1)  # 2.2 units' worth
    partial = [(await subject.store.acquire("c", [slow])).allowed for _ in range(3)]
    assert partial == [True, True, False]
    await subject.wait(2.0)
    full = [(await subject.store.acquire("c", [slow])).allowed for _ in range(5)]
    assert full == [True] * 4 + [False]


async def test_charges_are_all_or_nothing(subject: Subject) -> None:
    first = await subject.store.acquire("c", [REQUESTS, tokens(80)])
    assert first.allowed and [b.remaining for b in first.buckets] == [4, 20]
    refused = await subject.store.acquire("c", [REQUESTS, tokens(50)])
    assert not refused.allowed
    assert refused.buckets[0].retry_after == 0  # requests had room...
    assert 0.2 <= refused.buckets[1].retry_after <= 0.3  # ...tokens lacked 30 of 100/s
    after = await subject.store.acquire("c", [REQUESTS, tokens(0)])
    assert after.allowed and after.buckets[0].remaining == 3  # the refusal took no request


async def test_a_cost_above_the_limit_passes_once_the_bucket_is_full(subject: Subject) -> None:
    big = await subject.store.acquire("c", [tokens(10_000)])
    assert big.allowed and big.buckets[0].remaining == 0


async def test_adjust_takes_a_bucket_into_debt_and_gives_back(subject: Subject) -> None:
    await subject.store.acquire("c", [tokens(100)])
    await subject.store.adjust("c", tokens(50))
    in_debt = await subject.store.acquire("c", [tokens(0)])
    assert not in_debt.allowed and 0.4 <= in_debt.retry_after <= 0.5
    await subject.store.adjust("c", tokens(-150))
    refunded = await subject.store.acquire("c", [tokens(0)])
    assert refunded.allowed and refunded.buckets[0].remaining >= 99
    await subject.store.adjust("c", tokens(-1_000))  # never above full
    assert (await subject.store.acquire("c", [tokens(0)])).buckets[0].remaining == 100


async def test_identities_and_buckets_are_independent(subject: Subject) -> None:
    for _ in range(5):
        await subject.store.acquire("key:a", [REQUESTS])
    assert not (await subject.store.acquire("key:a", [REQUESTS])).allowed
    assert (await subject.store.acquire("key:b", [REQUESTS])).allowed
    assert (await subject.store.acquire("key:a", [Charge("other", 5, 1.0)])).allowed


async def test_an_invalid_identity_is_refused(subject: Subject) -> None:
    for identity in ("", "has space", "{brace}", "x" * 200):
        with pytest.raises(ValueError):
            await subject.store.acquire(identity, [REQUESTS])
        with pytest.raises(ValueError):
            await subject.store.adjust(identity, tokens(1))


async def test_exact_under_concurrency_across_two_replicas(subject: Subject) -> None:
    per_minute = Charge("requests", limit=50, period=60.0)
    stores = subject.replicas
    decisions = await asyncio.gather(
        *(stores[n % 2].acquire("key:shared", [per_minute]) for n in range(200))
    )
    assert sum(d.allowed for d in decisions) == 50
    honest = [d.retry_after for d in decisions if not d.allowed]
    assert len(honest) == 150 and all(0 < wait <= 1.2 for wait in honest)


# Redis only: what the keys look like, and what a dead Redis raises.


async def test_redis_keys_name_the_identity_in_one_slot_and_are_swept_when_full(
    redis_client: Redis, key_prefix: str
) -> None:
    store = RedisRateLimitStore(redis_client, key_prefix=key_prefix)
    await store.acquire("key:team-a", [REQUESTS, tokens(10)])
    keys = sorted([key.decode() async for key in redis_client.scan_iter(match=f"{key_prefix}:*")])
    bucket = f"{key_prefix}:rl:{{key:team-a}}"
    assert keys == [f"{bucket}:requests", f"{bucket}:tokens"]
    assert key_slot(keys[0].encode()) == key_slot(keys[1].encode())
    # No TTL: no volatile-* memory policy may evict what a client spent (see the module).
    assert await redis_client.pttl(keys[0]) == -1
    assert await store.sweep_full_buckets() == 0  # not full yet: kept
    await asyncio.sleep(0.25)
    assert await store.sweep_full_buckets() == 2  # a full bucket leaves nothing behind
    assert await redis_client.exists(*keys) == 0


async def test_a_dead_redis_is_store_unavailable() -> None:
    # No retries: redis-py's default backoff would only make this test slow.
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    store = RedisRateLimitStore(dead)
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            await store.acquire("key:a", [REQUESTS])
        assert isinstance(caught.value.__cause__, Exception)
        assert "127.0.0.1" not in caught.value.message
        with pytest.raises(StoreUnavailableError):
            await store.adjust("key:a", tokens(1))
    finally:
        await dead.aclose()


async def test_leases_on_redis_save_round_trips_and_never_pass_the_limit(
    redis_client: Redis, second_redis_client: Redis, key_prefix: str
) -> None:
    """Two replicas with leases, one client at 2,000/min asking 2,400 times: far from the
    limit most admissions are local; near it every one asks Redis; never more than 2,000 pass
    (plus what refills meanwhile), and at most one lease per replica (1%: 20) is left unspent."""
    clock = SystemClock()
    replicas = [
        LeasedRateLimitStore(RedisRateLimitStore(client, key_prefix=key_prefix), clock)
        for client in (redis_client, second_redis_client)
    ]
    per_minute = Charge("requests", limit=2_000, period=60.0)

    async def client_of(replica: LeasedRateLimitStore) -> int:
        return sum([(await replica.acquire("key:busy", [per_minute])).allowed for _ in range(1_200)])

    started = time.monotonic()
    admitted = sum(await asyncio.gather(*(client_of(replica) for replica in replicas)))
    refilled = math.ceil((time.monotonic() - started) * 2_000 / 60)  # 33 a second
    assert 2_000 - 2 * 20 <= admitted <= 2_000 + refilled
    local = sum(replica.local_admissions for replica in replicas)
    assert local >= 900  # the upper half of the bucket, less the first exact acquisitions
