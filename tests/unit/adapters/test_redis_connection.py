"""``build_redis``: which client and which bounds each URL gives (no server needed: clients
connect lazily). The behaviour under faults is tested against real servers in
``tests/contract/stores/test_redis_under_faults.py``."""

from __future__ import annotations

import pytest
import redis.utils
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_adapters.stores.redis.connection import RedisConnectionConfig, build_redis


def _config(url: str) -> RedisConnectionConfig:
    return RedisConnectionConfig(url, timeout=0.7, max_connections=9, pool_timeout=0.3)


def test_one_server_gets_a_blocking_pool_with_a_wait_deadline() -> None:
    client = build_redis(_config("redis://:pw@db.example:6380/3"))
    pool = client.connection_pool
    assert isinstance(client, Redis) and isinstance(pool, BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout) == (9, 0.3)
    options = pool.connection_kwargs
    assert (options["host"], options["port"], options["db"]) == ("db.example", 6380, 3)
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.7


def test_a_timeout_is_never_retried_and_a_dead_connection_once() -> None:
    retry = build_redis(_config("redis://localhost/0")).connection_pool.connection_kwargs["retry"]
    assert retry.get_retries() == 1
    supported = retry._supported_errors  # what redis-py retries: its own attribute
    assert RedisConnectionError in supported
    assert not any(issubclass(RedisTimeoutError, error) for error in supported)


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_db() -> None:
    client = build_redis(_config("redis+sentinel://user:pw@s1:26380,s2/primary/2"))
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and isinstance(pool, BlockingConnectionPool)
    assert pool.service_name == "primary"
    addresses = [sentinel.connection_pool.connection_kwargs for sentinel in
                 pool.sentinel_manager.sentinels]  # fmt: skip
    assert [(a["host"], a["port"]) for a in addresses] == [("s1", 26380), ("s2", 26379)]
    assert (pool.max_connections, pool.timeout) == (9, 0.3)
    options = pool.connection_kwargs
    assert (options["db"], options["username"], options["password"]) == (2, "user", "pw")


def test_a_sentinel_url_without_a_master_name_is_refused() -> None:
    with pytest.raises(ValueError, match="master"):
        build_redis(_config("redis+sentinel://s1:26379"))


def test_a_cluster_url_lists_its_startup_nodes() -> None:
    client = build_redis(_config("redis+cluster://n1:7000,n2:7001"))
    assert isinstance(client, RedisCluster)
    nodes = [(node.host, node.port) for node in client.nodes_manager.startup_nodes.values()]
    assert nodes == [("n1", 7000), ("n2", 7001)]


@pytest.mark.parametrize("url", ["redis://localhost/0", "redis+sentinel://s1:26379/primary/0"])
def test_new_connections_do_not_read_the_drivers_version_from_package_metadata(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = build_redis(_config(url)).connection_pool
    reads: list[str] = []
    monkeypatch.setattr(redis.utils, "get_lib_version", lambda: reads.append("read") or "0")
    connections = [pool.make_connection() for _ in range(3)]
    assert reads == []  # read once, when the client was built (0.3 ms each on the loop)
    assert {c.driver_info.formatted_name for c in connections} == {"redis-py"}
    assert {c.driver_info.lib_version for c in connections} == {redis.__version__}
