"""Two gateway replicas sharing a ``redis-server`` of this module's own, which the tests freeze
(SIGSTOP): a request pays one Redis timeout, not two, and the fail-open limiter admits at most
its configured share of the limit on each replica while Redis is away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.gateway_controls import (
    CHAT,
    LOCAL_MODEL,
    ClientKey,
    client_key,
    keys_env,
    user_message,
)
from tests.support.gateway import GatewayProcess
from tests.support.redis_server import RedisServer

TIMEOUT = 1.0
LIMIT = 10
SHARE = 0.3
LOCAL_LIMIT = 3  # floor(LIMIT x SHARE)


@dataclass(frozen=True)
class Setup:
    redis: RedisServer
    replicas: tuple[GatewayProcess, GatewayProcess]
    timing: ClientKey
    bound: ClientKey


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    server = RedisServer(tmp_path_factory.mktemp("faults-redis")).start()
    timing, bound = client_key("timing"), client_key("bound")
    env = {
        **keys_env(timing, bound),
        "LLM_GATEWAY_REDIS_URL": server.url,
        "LLM_GATEWAY_REDIS_TIMEOUT_SECONDS": str(TIMEOUT),
        "LLM_GATEWAY_RATE_LIMIT_REQUESTS_PER_MINUTE": str(LIMIT),
        "LLM_GATEWAY_RATE_LIMIT_FAIL_OPEN_SHARE": str(SHARE),
        "LLM_GATEWAY_CACHE_ENABLED": "false",
    }
    try:
        with GatewayProcess(env) as first, GatewayProcess(env) as second:
            yield Setup(server, (first, second), timing, bound)
    finally:
        server.stop()


@pytest.fixture
def frozen(setup: Setup) -> Iterator[Setup]:
    setup.redis.freeze()
    try:
        yield setup
    finally:
        setup.redis.thaw()


def _chat(gateway: GatewayProcess, key: ClientKey) -> httpx.Response:
    body = {"model": LOCAL_MODEL, "messages": user_message("hi")}
    return httpx.post(f"{gateway.url}{CHAT}", json=body, headers=key.bearer, timeout=10)


def test_a_frozen_redis_costs_a_request_one_timeout(frozen: Setup) -> None:
    gateway = frozen.replicas[0]
    start = time.monotonic()
    response = _chat(gateway, frozen.timing)
    elapsed = time.monotonic() - start
    assert response.status_code == 200, response.text
    # A second attempt would take two timeouts; the margin below that is for a loaded machine.
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT * 1.8, f"{elapsed:.2f}s for a {TIMEOUT}s timeout"


async def _burst(gateway: GatewayProcess, key: ClientKey, count: int) -> list[int]:
    body = {"model": LOCAL_MODEL, "messages": user_message("hi")}
    async with httpx.AsyncClient(base_url=gateway.url, headers=key.bearer, timeout=10) as client:
        responses = await asyncio.gather(*(client.post(CHAT, json=body) for _ in range(count)))
    return [response.status_code for response in responses]


def test_fail_open_admits_at_most_its_share_on_each_replica(frozen: Setup) -> None:
    async def both() -> list[list[int]]:
        bursts = (_burst(gateway, frozen.bound, LIMIT) for gateway in frozen.replicas)
        return list(await asyncio.gather(*bursts))

    statuses = asyncio.run(both())
    for per_replica in statuses:
        assert sorted(set(per_replica)) == [200, 429], per_replica
        assert per_replica.count(200) == LOCAL_LIMIT
    assert sum(s.count(200) for s in statuses) <= len(frozen.replicas) * SHARE * LIMIT


def test_the_shared_limit_is_exact_again_when_redis_answers(setup: Setup) -> None:
    statuses = asyncio.run(_burst(setup.replicas[1], setup.timing, LIMIT + 2))
    # 'timing' spent nothing in Redis while it was frozen (its one request went to a fallback).
    assert statuses.count(200) == LIMIT and statuses.count(429) == 2
