"""A Redis client built from configuration: one server, a Sentinel-managed master, or a Cluster.

The URL chooses the mode::

    redis://[user:password@]host:6379/0            one server (rediss:// for TLS)
    redis+sentinel://[user:password@]s1:26379,s2:26379/<master name>[/<db>]
                                                  ask the sentinels for the master, and again
                                                  after a failover (rediss+sentinel:// for TLS)
    redis+cluster://[user:password@]node:7000[,node2:7001]
                                                  a Redis Cluster, discovered from any node

What every mode promises (see docs/DEPLOYMENT.md, "Redis under faults"):

- one attempt per command within ``timeout``: a timed-out command is never sent again (a
  retry would double the wait of every request while Redis is frozen). A connection found dead
  (``ConnectionError``: a restart, a failover) is replaced and the command sent once more,
  since that costs no wait;
- at most ``max_connections`` connections per process (per cluster node); a command that finds
  them all busy waits up to ``pool_timeout`` for one, then fails like a Redis that is down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError

SENTINEL_SCHEMES = frozenset({"redis+sentinel", "rediss+sentinel"})
CLUSTER_SCHEMES = frozenset({"redis+cluster", "rediss+cluster"})


@dataclass(frozen=True, slots=True)
class RedisConnectionConfig:
    url: str
    timeout: float = 1.0
    """Connect and per-command socket timeout, seconds."""
    max_connections: int = 64
    pool_timeout: float = 1.0
    """How long a command waits for a free connection when all ``max_connections`` are busy."""


def build_redis(config: RedisConnectionConfig) -> Redis:
    """A client for ``config.url``'s mode. Connections open lazily, on the first command.

    A ``RedisCluster`` is not a ``Redis`` subclass but answers every command the stores use;
    the annotation says what the stores program against."""
    scheme = urlsplit(config.url).scheme
    if scheme in SENTINEL_SCHEMES:
        return _sentinel_client(config)
    if scheme in CLUSTER_SCHEMES:
        return _cluster_client(config)  # type: ignore[return-value]
    pool = BlockingConnectionPool.from_url(
        config.url,
        max_connections=config.max_connections,
        timeout=config.pool_timeout,
        **_connection_options(config),
    )
    return Redis.from_pool(pool)


def _one_attempt() -> Retry:
    """Send a command again only on a dead connection, never after a timeout."""
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


def _connection_options(config: RedisConnectionConfig) -> dict[str, Any]:
    return {
        "socket_timeout": config.timeout,
        "socket_connect_timeout": config.timeout,
        # Not ``retry_on_timeout`` (deprecated, and off by default): the Retry below says it.
        "retry": _one_attempt(),
        # One driver description for every connection: without it, each new connection reads
        # redis-py's version from the installed packages' metadata (0.3 ms, on the event loop:
        # 20 ms for a pool of 64 growing under load, or reconnecting after a failover).
        "driver_info": DriverInfo(),
    }


@dataclass(frozen=True, slots=True)
class _MultiHostUrl:
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    path: tuple[str, ...]
    username: str | None
    password: str | None


def _parse_multi_host(url: str, default_port: int) -> _MultiHostUrl:
    """``scheme://[user:password@]h1:p1,h2:p2/path``: several hosts, which urlsplit cannot
    read as one netloc. Messages never quote the URL: it may hold a password."""
    parts = urlsplit(url)
    credentials, _, hosts_text = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    hosts = []
    for item in hosts_text.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        if not host:
            raise ValueError("a Redis URL lists a host without a name")
        hosts.append((host.strip("[]"), int(port) if port else default_port))
    return _MultiHostUrl(
        tls=parts.scheme.startswith("rediss"),
        hosts=tuple(hosts),
        path=tuple(segment for segment in parts.path.split("/") if segment),
        username=unquote(username) or None,
        password=unquote(password) or None,
    )


def _sentinel_client(config: RedisConnectionConfig) -> Redis:
    parsed = _parse_multi_host(config.url, default_port=26379)
    if not parsed.path:
        raise ValueError("a redis+sentinel:// URL needs the master's name as its path")
    options = _connection_options(config)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        list(parsed.hosts),
        # The sentinels answer discovery only: the same timeouts, no password of the master.
        sentinel_kwargs={"socket_timeout": config.timeout,
                         "socket_connect_timeout": config.timeout},
    )  # fmt: skip
    return sentinel.master_for(  # type: ignore[no-any-return]  # typed Any by redis-py
        parsed.path[0],
        redis_class=Redis,
        connection_pool_class=_BlockingSentinelPool,
        db=int(parsed.path[1]) if len(parsed.path) > 1 else 0,
        username=parsed.username,
        password=parsed.password,
        ssl=parsed.tls,
        max_connections=config.max_connections,
        timeout=config.pool_timeout,
        **options,
    )


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The sentinel's master discovery with the blocking pool's bound and wait deadline
    (redis-py's own sentinel pool fails at once when its connections are all busy)."""


_TOPOLOGY_HEADROOM = 4


class _BoundedRedisCluster(RedisCluster):
    """redis-py's cluster client fails at once (``MaxConnectionsError``) when a node's
    connections are all busy; this one makes a command wait for a free slot up to
    ``pool_timeout``, as the blocking pool does. At most ``max_connections`` commands (or
    pipelines) are in flight, so no node ever needs more connections than that."""

    def __init__(
        self, *args: Any, pool_timeout: float, max_connections: int, **kwargs: Any
    ) -> None:
        # Headroom for the client's own topology commands (CLUSTER SLOTS), which take a
        # connection outside these slots: a node at its limit fails with MaxConnectionsError,
        # and the client answers any connection error by closing every connection it has.
        kwargs["max_connections"] = max_connections + _TOPOLOGY_HEADROOM
        super().__init__(*args, **kwargs)
        self._free_slots = asyncio.Semaphore(max_connections)
        self._pool_timeout = pool_timeout

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._initialize:
            # Learn the slot map before the first burst: commands sent while it is being
            # learnt go to the wrong nodes, and their MOVED replies make redis-py drop every
            # connection (a cascade of ConnectionErrors).
            await self.initialize()
        try:
            await asyncio.wait_for(self._free_slots.acquire(), self._pool_timeout)
        except TimeoutError:
            raise RedisConnectionError("No connection available.") from None
        try:
            yield
        finally:
            self._free_slots.release()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._slot():
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        async def bounded_execute(*args: Any, **kwargs: Any) -> Any:
            async with self._slot():
                return await execute(*args, **kwargs)

        pipe.execute = bounded_execute  # type: ignore[method-assign]
        return pipe


def _cluster_client(config: RedisConnectionConfig) -> RedisCluster:
    parsed = _parse_multi_host(config.url, default_port=6379)
    return _BoundedRedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in parsed.hosts],
        username=parsed.username,
        password=parsed.password,
        ssl=parsed.tls,
        max_connections=config.max_connections,
        pool_timeout=config.pool_timeout,
        socket_timeout=config.timeout,
        socket_connect_timeout=config.timeout,
        # The cluster client's own loop: no second attempt after a timeout either; a moved
        # slot (MOVED/ASK) is followed regardless, as redirections are not retries.
        retry=Retry(NoBackoff(), 0),
    )
