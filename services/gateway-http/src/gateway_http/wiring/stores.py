"""The shared-state stores: Redis when ``LLM_GATEWAY_REDIS_URL`` is set, else in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from redis.asyncio import Redis

from gateway_adapters.stores.buffered_usage import BufferedUsageStore
from gateway_adapters.stores.redis.cache import RedisResponseCache
from gateway_adapters.stores.redis.connection import build_redis
from gateway_adapters.stores.redis.rate_limits import RedisRateLimitStore
from gateway_adapters.stores.redis.responses import RedisResponseStore
from gateway_adapters.stores.redis.sessions import RedisSessionStore
from gateway_adapters.stores.redis.usage import RedisUsageStore
from gateway_core.memory import (
    InMemoryRateLimitStore,
    InMemoryResponseCache,
    InMemoryResponseStore,
    InMemorySessionStore,
    InMemoryUsageStore,
)
from gateway_core.ports.cache import ResponseCache
from gateway_core.ports.clock import Clock
from gateway_core.ports.rate_limits import RateLimitStore
from gateway_core.ports.responses import ResponseStore
from gateway_core.ports.sessions import SessionStore
from gateway_core.ports.usage import UsageStore
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.rate_limit_leases import LeasedRateLimitStore
from gateway_http.redis_connection import redis_connection_config
from gateway_http.settings import Settings


async def open_redis(settings: Settings) -> AsyncIterator[Redis | None]:
    """A pooled client (connections open lazily), or ``None`` for the embedded default."""
    if settings.redis_url is None:
        yield None
        return
    client = build_redis(redis_connection_config(settings))
    try:
        yield client
    finally:
        await client.aclose()


def session_store(redis: Redis | None, clock: Clock) -> SessionStore:
    return InMemorySessionStore(clock) if redis is None else RedisSessionStore(redis, clock)


def response_store(redis: Redis | None, clock: Clock) -> ResponseStore:
    """Stored Responses API answers live where sessions do."""
    return InMemoryResponseStore(clock) if redis is None else RedisResponseStore(redis)


def rate_limit_store(
    redis: Redis | None, clock: Clock, settings: Settings, background: BackgroundTasks
) -> RateLimitStore:
    """On Redis, behind leases (see ``LeasedRateLimitStore``): no round trip per request while
    a client is far from its limits, leases renewed in the background ahead of need. In memory
    a decision costs nothing, so no leases."""
    if redis is None:
        return InMemoryRateLimitStore(clock)
    fraction = settings.rate_limit_lease_fraction
    return LeasedRateLimitStore(RedisRateLimitStore(redis), clock, fraction, background)


def response_cache(redis: Redis | None, clock: Clock, settings: Settings) -> ResponseCache:
    if redis is None:
        return InMemoryResponseCache(clock, settings.cache_max_entries)
    return RedisResponseCache(redis)


async def open_usage_store(redis: Redis | None, clock: Clock) -> AsyncIterator[UsageStore]:
    """On Redis, usage is summed in memory and written in batches (see ``BufferedUsageStore``);
    what is pending is written when the service stops."""
    if redis is None:
        yield InMemoryUsageStore(clock)
        return
    store = BufferedUsageStore(RedisUsageStore(redis))
    try:
        yield store
    finally:
        await store.aclose()


async def redis_check(redis: Redis | None) -> dict[str, str]:
    if redis is None:
        return {"backend": "memory"}
    await redis.ping()
    return {"backend": "redis"}
