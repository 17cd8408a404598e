"""The ``ResponseStore`` contract, run against every implementation (memory and real Redis).

The memory store expires by its injected clock, Redis by its own: ``elapse`` moves the fake
clock for the one and sleeps (briefly: TTLs here are fractions of a second) for the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from gateway_adapters.stores.redis import RedisResponseStore
from gateway_core.errors import StoreUnavailableError
from gateway_core.memory import InMemoryResponseStore
from gateway_core.ports.responses import ResponseStore, StoredResponse
from gateway_core.testing import FakeClock

TTL = 0.3


@dataclass
class Harness:
    store: ResponseStore
    elapse: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "memory":
        clock = FakeClock()

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        return Harness(InMemoryResponseStore(clock), advance)
    client = request.getfixturevalue("redis_client")
    store = RedisResponseStore(client, key_prefix=request.getfixturevalue("key_prefix"))
    return Harness(store, asyncio.sleep)


def _stored(response_id: str = "resp_1", owner: str | None = "key-a") -> StoredResponse:
    user = {"type": "message", "id": "msg_in", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    answer = {"type": "message", "id": "msg_out", "role": "assistant", "status": "completed",
              "content": [{"type": "output_text", "text": "hello", "annotations": []}]}  # fmt: skip
    response = {"id": response_id, "object": "response", "status": "completed", "output": [answer],
                "metadata": {}, "usage": {"input_tokens": 3, "output_tokens": 1}}  # fmt: skip
    return StoredResponse(response_id, owner, response, [user], [user])


async def test_a_stored_response_reads_back_as_stored(harness: Harness) -> None:
    stored = _stored()
    await harness.store.put(stored, TTL * 100)
    assert await harness.store.get("resp_1", "key-a") == stored


async def test_without_auth_the_owner_is_none(harness: Harness) -> None:
    await harness.store.put(_stored(owner=None), TTL * 100)
    assert await harness.store.get("resp_1", None) == _stored(owner=None)
    assert await harness.store.get("resp_1", "key-a") is None


async def test_another_owner_sees_nothing_and_cannot_delete(harness: Harness) -> None:
    await harness.store.put(_stored(), TTL * 100)
    assert await harness.store.get("resp_1", "key-b") is None
    assert await harness.store.delete("resp_1", "key-b") is False
    assert await harness.store.get("resp_1", "key-a") is not None


async def test_delete_removes_once(harness: Harness) -> None:
    await harness.store.put(_stored(), TTL * 100)
    assert await harness.store.delete("resp_1", "key-a") is True
    assert await harness.store.get("resp_1", "key-a") is None
    assert await harness.store.delete("resp_1", "key-a") is False


async def test_unknown_ids_are_absent(harness: Harness) -> None:
    assert await harness.store.get("resp_missing", "key-a") is None
    assert await harness.store.delete("resp_missing", "key-a") is False


async def test_a_response_expires_after_its_ttl(harness: Harness) -> None:
    await harness.store.put(_stored(), TTL)
    await harness.elapse(TTL * 2)
    assert await harness.store.get("resp_1", "key-a") is None


async def test_a_ttl_must_be_positive(harness: Harness) -> None:
    with pytest.raises(ValueError):
        await harness.store.put(_stored(), 0)


async def test_redis_down_is_store_unavailable() -> None:
    client = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    store = RedisResponseStore(client)
    try:
        with pytest.raises(StoreUnavailableError):
            await store.get("resp_1", "key-a")
        with pytest.raises(StoreUnavailableError):
            await store.put(_stored(), 10)
    finally:
        await client.aclose()
