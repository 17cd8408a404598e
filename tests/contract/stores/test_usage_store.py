"""The ``UsageStore`` contract (sink and query), run against memory and real Redis.

Events carry their own timestamps, so no test waits: the day an event counts for is the UTC
day of its timestamp.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, date, datetime

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway_adapters.stores.buffered_usage import BufferedUsageStore, UsageWriteError
from gateway_adapters.stores.redis import RedisUsageStore
from gateway_core.domain.money import Money
from gateway_core.domain.usage import Usage, UsageEvent
from gateway_core.errors import StoreUnavailableError
from gateway_core.memory import InMemoryUsageStore
from gateway_core.ports.usage import UsageStore, UsageTotal
from gateway_core.testing import FakeClock

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
TYPICAL = Usage(prompt_tokens=100, completion_tokens=50, cached_tokens=20)


@pytest.fixture(params=["memory", "redis", "buffered-redis"])
def store(request: pytest.FixtureRequest) -> UsageStore:
    if request.param == "memory":
        return InMemoryUsageStore(FakeClock(start=_at(2026, 3, 15)))
    client = request.getfixturevalue("redis_client")
    redis_store = RedisUsageStore(client, key_prefix=request.getfixturevalue("key_prefix"))
    if request.param == "redis":
        return redis_store
    # Reads flush first, so the contract holds however long the writes wait.
    return BufferedUsageStore(redis_store, flush_seconds=60)


def _at(*when: int) -> float:
    return datetime(*when, tzinfo=UTC).timestamp()


def _event(
    key_id: str = "k1",
    model: str = "gpt-4o",
    when: float = _at(2026, 3, 15, 12),
    usage: Usage = TYPICAL,
    cost: float = 0.1,
    cached: bool = False,
) -> UsageEvent:
    return UsageEvent(key_id, model, "openai", usage, Money.usd(cost), when, cached=cached)


async def test_nothing_recorded_is_an_empty_list(store: UsageStore) -> None:
    assert await store.totals("k1", *MARCH) == []
    assert await store.totals(None, *MARCH) == []


async def test_events_add_up_exactly_per_key_model_and_day(store: UsageStore) -> None:
    await store.record(_event(cost=0.1))
    await store.record(_event(cost=0.2, usage=Usage(1, 2, 0)))
    assert await store.totals("k1", *MARCH) == [
        UsageTotal(
            key_id="k1",
            model="gpt-4o",
            day=date(2026, 3, 15),
            requests=2,
            cache_hits=0,
            prompt_tokens=101,
            completion_tokens=52,
            cached_tokens=20,
            cost_usd=Money.usd("0.3"),  # not 0.30000000000000004
        )
    ]


async def test_rows_are_ordered_by_day_key_and_model(store: UsageStore) -> None:
    await store.record(_event(key_id="k2", model="b", when=_at(2026, 3, 2)))
    await store.record(_event(key_id="k1", model="b", when=_at(2026, 3, 2)))
    await store.record(_event(key_id="k1", model="a", when=_at(2026, 3, 2)))
    await store.record(_event(key_id="k1", model="a", when=_at(2026, 3, 1)))
    rows = await store.totals(None, *MARCH)
    assert [(row.day.day, row.key_id, row.model) for row in rows] == [
        (1, "k1", "a"),
        (2, "k1", "a"),
        (2, "k1", "b"),
        (2, "k2", "b"),
    ]


async def test_a_key_sees_only_its_own_usage_and_an_admin_sees_all(store: UsageStore) -> None:
    await store.record(_event(key_id="alice"))
    await store.record(_event(key_id="bob", cost=0.5))
    [alice] = await store.totals("alice", *MARCH)
    assert (alice.key_id, alice.cost_usd) == ("alice", Money.usd("0.1"))
    assert {row.key_id for row in await store.totals(None, *MARCH)} == {"alice", "bob"}
    assert await store.totals("carol", *MARCH) == []


async def test_the_range_is_inclusive_utc_days(store: UsageStore) -> None:
    await store.record(_event(when=_at(2026, 2, 28, 23, 59, 59)))
    await store.record(_event(when=_at(2026, 3, 1, 0, 0, 0)))
    await store.record(_event(when=_at(2026, 3, 31, 23, 59, 59)))
    await store.record(_event(when=_at(2026, 4, 1)))
    rows = await store.totals("k1", *MARCH)
    assert [row.day for row in rows] == [date(2026, 3, 1), date(2026, 3, 31)]
    [one_day] = await store.totals("k1", date(2026, 2, 28), date(2026, 2, 28))
    assert one_day.requests == 1


async def test_a_cache_hit_counts_a_request_and_a_hit_but_no_tokens(store: UsageStore) -> None:
    await store.record(_event(cost=0.0, cached=True))
    await store.record(_event(cost=0.25))
    [row] = await store.totals("k1", *MARCH)
    assert (row.requests, row.cache_hits, row.prompt_tokens, row.cost_usd) == (2, 1, 100, Money.usd("0.25"))


@pytest.mark.parametrize("model", ["qwen3:8b", "ollama/llama3.2:1b", "a|b c", "ünï"])
async def test_any_model_name_round_trips(store: UsageStore, model: str) -> None:
    await store.record(_event(model=model))
    [row] = await store.totals("k1", *MARCH)
    assert row.model == model and row.requests == 1


async def test_tiny_and_large_costs_stay_exact(store: UsageStore) -> None:
    for cost in (0.000000175, 0.000000175, 12345.6789012345):
        await store.record(_event(cost=cost))
    [row] = await store.totals("k1", *MARCH)
    assert row.cost_usd == Money.usd("12345.6789015845")


# Memory only: days past the retention are forgotten, like Redis's expiry.


async def test_the_memory_store_forgets_days_past_its_retention() -> None:
    clock = FakeClock(start=_at(2026, 3, 15))
    store = InMemoryUsageStore(clock, retention_days=30)
    await store.record(_event(when=clock.now()))
    clock.advance(31 * 86_400)
    await store.record(_event(when=clock.now()))
    rows = await store.totals("k1", date(2026, 1, 1), date(2026, 12, 31))
    assert [row.day for row in rows] == [date(2026, 4, 15)]


# Redis only: key names carry only the key id, counters expire, a dead server is unavailable.


async def test_redis_keys_name_only_the_key_id_and_expire(
    redis_client: Redis, key_prefix: str
) -> None:
    await RedisUsageStore(redis_client, key_prefix, retention_days=400).record(_event())
    names = sorted([key.decode() async for key in redis_client.scan_iter(f"{key_prefix}:*")])
    assert names == [
        f"{key_prefix}:usage:keys",
        f"{key_prefix}:usage:{{k1}}:2026-03-15",
        f"{key_prefix}:usage:{{k1}}:days",
    ]
    ttl = await redis_client.ttl(f"{key_prefix}:usage:{{k1}}:2026-03-15")
    assert 399 * 86_400 < ttl <= 400 * 86_400


async def test_redis_reads_counters_written_before_money_was_a_type(
    redis_client: Redis, key_prefix: str
) -> None:
    """The day hash holds integer picodollars, as it always did: old data reads back exact."""
    store = RedisUsageStore(redis_client, key_prefix, retention_days=400)
    await store.record(_event(cost=0.1))
    day = f"{key_prefix}:usage:{{k1}}:2026-03-15"
    assert int(await redis_client.hget(day, "cost_picodollars:gpt-4o")) == 100_000_000_000
    await redis_client.hincrby(day, "cost_picodollars:gpt-4o", 200_000_000_000)  # an old write
    [row] = await store.totals("k1", *MARCH)
    assert row.cost_usd == Money.usd("0.3")


async def test_redis_down_is_store_unavailable() -> None:
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    store = RedisUsageStore(dead)
    try:
        with pytest.raises(StoreUnavailableError):
            await store.record(_event())
        with pytest.raises(StoreUnavailableError):
            await store.totals(None, *MARCH)
    finally:
        await dead.aclose()


async def test_buffered_events_are_summed_and_written_in_one_batch(
    redis_client: Redis, key_prefix: str
) -> None:
    redis_store = RedisUsageStore(redis_client, key_prefix=key_prefix)
    buffered = BufferedUsageStore(redis_store, flush_seconds=0.05)
    for _ in range(30):
        await buffered.record(_event())
    assert await redis_store.totals(None, *MARCH) == [], "nothing is written on the request path"
    await asyncio.sleep(0.3)
    [total] = await redis_store.totals(None, *MARCH)
    assert (total.requests, total.prompt_tokens) == (30, 30 * TYPICAL.prompt_tokens)
    await buffered.aclose()


async def test_buffered_counts_survive_a_store_outage() -> None:
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    buffered = BufferedUsageStore(RedisUsageStore(dead), flush_seconds=60)
    try:
        await buffered.record(_event())  # the request path never sees the outage
        with pytest.raises(StoreUnavailableError):
            await buffered.flush()
        with pytest.raises(StoreUnavailableError):
            await buffered.flush()  # still pending: kept, tried again
    finally:
        await dead.aclose()


class _FailsOnceAfterFirstKey:
    """A ``BatchUsageStore`` that writes key by key, like Redis's, and fails once after the
    first key: what a connection lost mid-flush looks like."""

    def __init__(self) -> None:
        self.written: list[UsageTotal] = []
        self.failed = False

    async def add_totals(self, totals: Iterable[UsageTotal]) -> None:
        done: set[str] = set()
        for total in sorted(totals, key=lambda t: t.key_id):
            if done and total.key_id not in done and not self.failed:
                self.failed = True
                raise UsageWriteError("lost mid-flush", frozenset(done))
            self.written.append(total)
            done.add(total.key_id)

    async def totals(self, key_id: str | None, start: date, end: date) -> list[UsageTotal]:
        return []


async def test_a_flush_that_fails_part_way_never_counts_a_written_key_twice() -> None:
    inner = _FailsOnceAfterFirstKey()
    buffered = BufferedUsageStore(inner, flush_seconds=60)
    await buffered.record(_event(key_id="k1"))
    await buffered.record(_event(key_id="k2"))
    with pytest.raises(StoreUnavailableError):
        await buffered.flush()
    await buffered.flush()
    assert sorted(total.key_id for total in inner.written) == ["k1", "k2"]


async def test_one_flush_of_many_keys_writes_each_whole(
    redis_client: Redis, key_prefix: str
) -> None:
    redis_store = RedisUsageStore(redis_client, key_prefix=key_prefix)
    await redis_store.add_totals([UsageTotal.of(_event(key_id=f"k{i}")) for i in range(5)])
    rows = await redis_store.totals(None, *MARCH)
    assert [row.key_id for row in rows] == [f"k{i}" for i in range(5)]
