"""Fixtures every store contract suite shares: a real Redis client and a private key prefix."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from gateway_adapters.stores.redis.connection import RedisConnectionConfig, build_redis
from tests.support.redis_topologies import Topologies


@pytest.fixture
def redis_mode() -> str:
    """``single`` here; ``cluster`` in ``on_cluster/``, which runs these same suites on a
    three-master Redis Cluster: what must hold there (each multi-key command and script within
    one slot) is the whole contract."""
    return "single"


@pytest.fixture
def open_redis_client(
    redis_url: str, redis_mode: str, topologies: Topologies
) -> Callable[[], Redis]:
    """Opens a client of this test's mode; a test may open several (several replicas)."""
    url = topologies.cluster().url if redis_mode == "cluster" else redis_url
    return lambda: build_redis(RedisConnectionConfig(url, timeout=5.0))


@pytest.fixture
async def redis_client(open_redis_client: Callable[[], Redis]) -> AsyncIterator[Redis]:
    client = open_redis_client()
    yield client
    await client.aclose()


@pytest.fixture
async def key_prefix(redis_client: Redis) -> AsyncIterator[str]:
    """A prefix no other test run uses; every key under it is deleted afterwards."""
    prefix = f"llmgw-test-{secrets.token_hex(6)}"
    yield prefix
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis_client.delete(*keys)
