"""``redis+sentinel://``: the stores find the master through a real sentinel, and find the new
one after ``SENTINEL FAILOVER`` (a master, a replica and a sentinel of the session's own)."""

from __future__ import annotations

import asyncio
import time

from gateway_adapters.stores.redis.connection import RedisConnectionConfig, build_redis
from gateway_adapters.stores.redis.keys import RedisKeyStore
from gateway_adapters.stores.redis.rate_limits import RedisRateLimitStore
from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.errors import StoreUnavailableError
from gateway_core.ports.rate_limits import Charge
from tests.support.redis_topologies import Topologies

FAILOVER_SECONDS = 10.0


def _key(key_id: str) -> ApiKey:
    return ApiKey(id=key_id, name=key_id, sha256=hash_secret(key_id))


async def _served_by(client: object) -> int:
    info = await client.info("server")  # type: ignore[attr-defined]
    return int(info["tcp_port"])


async def test_the_stores_follow_the_master_through_a_failover(topologies: Topologies) -> None:
    sentinel_setup = topologies.sentinel()
    client = build_redis(RedisConnectionConfig(sentinel_setup.url, timeout=1.0))
    keys = RedisKeyStore(client, key_prefix="sentinel-test")
    limiter = RedisRateLimitStore(client, key_prefix="sentinel-test")
    try:
        assert await _served_by(client) == sentinel_setup.master_port_now()
        assert await keys.create(_key("before-failover"))
        assert (await limiter.acquire("who", [Charge("requests", 2, 60.0, 2)])).allowed
        await client.wait(1, 2000)  # the replica has it before it is promoted
        new_master = await asyncio.to_thread(sentinel_setup.failover)
        deadline = time.monotonic() + FAILOVER_SECONDS
        while True:
            try:
                assert await keys.create(_key("after-failover"))
                break
            except StoreUnavailableError:
                # The moments while the old master steps down; never longer than the deadline.
                assert time.monotonic() < deadline, "no write succeeded after the failover"
                await asyncio.sleep(0.1)
        assert await _served_by(client) == new_master
        assert [key.id for key in await keys.list()] == ["after-failover", "before-failover"]
        # The limiter state moved with the data: the spent allowance stays spent.
        assert not (await limiter.acquire("who", [Charge("requests", 2, 60.0)])).allowed
    finally:
        await client.aclose()
