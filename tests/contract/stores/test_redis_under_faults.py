"""Redis clients from ``build_redis`` against a frozen ``redis-server`` (SIGSTOP) of the test's
own: one timeout per command (never a silent second attempt), and a pool that never grows past
its bound, whose waiters give up at their deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis
from redis import exceptions as redis_errors

from gateway_adapters.stores.redis.connection import RedisConnectionConfig, build_redis
from gateway_adapters.stores.redis.rate_limits import RedisRateLimitStore
from gateway_core.errors import StoreUnavailableError
from gateway_core.ports.rate_limits import Charge
from tests.support.redis_server import RedisServer

TIMEOUT = 0.5
POOL = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    started = RedisServer(tmp_path_factory.mktemp("frozen-redis")).start()
    yield started
    started.stop()


def _connections_received(server: RedisServer) -> int:
    with redis.Redis(port=server.port, socket_timeout=2) as admin:
        return int(admin.info("stats")["total_connections_received"])


def _config(server: RedisServer) -> RedisConnectionConfig:
    return RedisConnectionConfig(server.url, timeout=TIMEOUT, max_connections=POOL,
                                 pool_timeout=TIMEOUT)  # fmt: skip


async def test_a_frozen_redis_costs_one_timeout_per_command(server: RedisServer) -> None:
    client = build_redis(_config(server))
    store = RedisRateLimitStore(client)
    await client.ping()  # a pooled connection, as under traffic
    server.freeze()
    try:
        start = time.monotonic()
        with pytest.raises(redis_errors.TimeoutError):
            await client.get("anything")
        plain = time.monotonic() - start
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await store.acquire("who", [Charge("requests", 5, 60.0)])
        scripted = time.monotonic() - start
    finally:
        server.thaw()
        await client.aclose()
    # A second attempt would take at least 2 x TIMEOUT.
    assert TIMEOUT * 0.9 <= plain < TIMEOUT * 1.8
    assert TIMEOUT * 0.9 <= scripted < TIMEOUT * 1.8


async def test_the_pool_stays_bounded_and_waiters_give_up_at_their_deadline(
    server: RedisServer,
) -> None:
    client = build_redis(_config(server))
    before = _connections_received(server)
    server.freeze()
    try:
        start = time.monotonic()
        results = await asyncio.gather(*(client.get(f"k{i}") for i in range(20)),
                                       return_exceptions=True)  # fmt: skip
        elapsed = time.monotonic() - start
    finally:
        server.thaw()
    try:
        assert all(isinstance(result, redis_errors.RedisError) for result in results)
        # The two connections' commands time out; the 18 waiters give up after pool_timeout.
        timeouts = [r for r in results if isinstance(r, redis_errors.TimeoutError)]
        assert len(timeouts) <= POOL * 2
        assert elapsed < TIMEOUT + TIMEOUT + 0.5
        opened = _connections_received(server) - before - 1  # minus the counting connection
        assert opened <= POOL, f"{opened} connections for a pool of {POOL}"
        assert await client.ping()  # and it recovers once Redis answers again
    finally:
        await client.aclose()


async def test_a_dead_connection_is_replaced_without_an_error(server: RedisServer) -> None:
    client = build_redis(_config(server))
    try:
        await client.set("survivor", "1")
        with redis.Redis(port=server.port) as admin:
            admin.client_kill_filter(_type="normal", skipme=True)
        assert await client.get("survivor") == b"1"
    finally:
        await client.aclose()
