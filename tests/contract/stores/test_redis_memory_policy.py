"""Under the documented memory policy (``maxmemory-policy volatile-ttl``), memory pressure
evicts cached answers and never a rate-limit bucket: a client that spent its allowance stays
refused. A ``redis-server`` of the test's own with a small ``maxmemory``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from gateway_adapters.stores.redis.connection import RedisConnectionConfig, build_redis
from gateway_adapters.stores.redis.keys import RedisKeyStore
from gateway_adapters.stores.redis.rate_limits import RedisRateLimitStore
from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.ports.rate_limits import Charge
from tests.support.redis_server import RedisServer

REQUESTS = Charge("requests", limit=5, period=60.0)
CLIENTS = 200


@pytest.fixture(scope="module")
def small_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("small-redis"),
                         ["--maxmemory", "3mb", "--maxmemory-policy", "volatile-ttl"])  # fmt: skip
    yield server.start()
    server.stop()


@pytest.fixture
async def client(small_redis: RedisServer) -> AsyncIterator[Redis]:
    redis = build_redis(RedisConnectionConfig(small_redis.url, timeout=2.0))
    yield redis
    await redis.aclose()


async def test_memory_pressure_evicts_cached_answers_not_limiter_state(client: Redis) -> None:
    limiter = RedisRateLimitStore(client)
    keys = RedisKeyStore(client)
    await keys.create(ApiKey(id="kept", name="Kept", sha256=hash_secret("kept")))
    identities = [f"key:client-{index}" for index in range(CLIENTS)]
    for identity in identities:
        for _ in range(REQUESTS.limit):
            assert (await limiter.acquire(identity, [REQUESTS])).allowed
    # Cached answers (they carry a TTL, as the response cache's do) until Redis must evict.
    answer = secrets.token_bytes(8192)
    for index in range(3000):
        await client.set(f"llmgw:cache:filler-{index}", answer, ex=300)
    stats = await client.info("stats")
    assert int(stats["evicted_keys"]) > 100, "the test did not reach maxmemory"
    for identity in identities:
        decision = await limiter.acquire(identity, [REQUESTS])
        assert not decision.allowed, f"{identity} was admitted again: its bucket was evicted"
    assert await keys.get("kept") is not None
