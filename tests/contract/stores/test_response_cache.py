"""The ``ResponseCache`` contract, run against every implementation (memory and real Redis).

The memory cache expires by its injected clock, Redis by its own: ``elapse`` moves the fake
clock for the one and sleeps (briefly: TTLs here are fractions of a second) for the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway_adapters.stores.redis import RedisResponseCache
from gateway_core.domain.chat import ChatResponse, Choice
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.usage import Usage
from gateway_core.errors import StoreUnavailableError
from gateway_core.memory import InMemoryResponseCache
from gateway_core.ports.cache import ResponseCache
from gateway_core.testing import FakeClock

TTL = 0.3


@dataclass
class Harness:
    cache: ResponseCache
    elapse: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "memory":
        clock = FakeClock()

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        return Harness(InMemoryResponseCache(clock, max_entries=100), advance)
    client = request.getfixturevalue("redis_client")
    cache = RedisResponseCache(client, key_prefix=request.getfixturevalue("key_prefix"))
    return Harness(cache, asyncio.sleep)


def _response(text: str = "The answer.", **changes: object) -> ChatResponse:
    message = Message(
        role="assistant",
        content=(TextPart(text), ImagePart("data:image/png;base64,AAAA", detail="low")),
        name="helper",
        tool_calls=(ToolCall(id="call_1", name="search", arguments='{"q": "dune"}'),),
    )
    fields: dict[str, object] = {
        "id": "chatcmpl-1",
        "model": "gpt-4o",
        "choices": (
            Choice(message, "tool_calls", 0, native_finish_reason="tool_use"),
            Choice(Message.assistant("Plain."), "length", 1),
        ),
        "usage": Usage(prompt_tokens=12, completion_tokens=7, cached_tokens=4),
        "created": 1_700_000_000,
        "provider": "openai",
        "system_fingerprint": "fp_1",
    }
    fields.update(changes)
    return ChatResponse(**fields)  # type: ignore[arg-type]


async def test_an_unknown_key_is_a_miss(harness: Harness) -> None:
    assert await harness.cache.get("0" * 64) is None


async def test_a_stored_response_comes_back_whole(harness: Harness) -> None:
    response = _response()
    await harness.cache.set("a" * 64, response, 60)
    assert await harness.cache.get("a" * 64) == response


async def test_a_minimal_response_comes_back_whole(harness: Harness) -> None:
    response = ChatResponse(id="r", model="m", choices=(Choice(Message.assistant(None), "stop"),))
    await harness.cache.set("b" * 64, response, 60)
    assert await harness.cache.get("b" * 64) == response


async def test_storing_again_replaces_the_entry(harness: Harness) -> None:
    await harness.cache.set("c" * 64, _response("first"), 60)
    await harness.cache.set("c" * 64, _response("second"), 60)
    assert await harness.cache.get("c" * 64) == _response("second")


async def test_keys_do_not_share_entries(harness: Harness) -> None:
    await harness.cache.set("d" * 64, _response("d"), 60)
    await harness.cache.set("e" * 64, _response("e"), 60)
    assert await harness.cache.get("d" * 64) == _response("d")
    assert await harness.cache.get("e" * 64) == _response("e")


async def test_an_entry_lives_for_its_ttl_and_no_longer(harness: Harness) -> None:
    await harness.cache.set("f" * 64, _response(), TTL)
    await harness.elapse(TTL / 3)
    assert await harness.cache.get("f" * 64) == _response()
    await harness.elapse(TTL)
    assert await harness.cache.get("f" * 64) is None


@pytest.mark.parametrize("ttl", [0, -1])
async def test_a_non_positive_ttl_is_refused(harness: Harness, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        await harness.cache.set("g" * 64, _response(), ttl)


# Memory only: the least recently used entry goes first when the cache is full.


async def test_the_memory_cache_evicts_the_least_recently_used_entry() -> None:
    cache = InMemoryResponseCache(FakeClock(), max_entries=2)
    await cache.set("old", _response("old"), 60)
    await cache.set("used", _response("used"), 60)
    assert await cache.get("old") is not None  # now "used" is the least recently used
    await cache.set("new", _response("new"), 60)
    assert [await cache.get(key) is not None for key in ("old", "used", "new")] == [
        True,
        False,
        True,
    ]
    assert len(cache) == 2


# Redis only: where entries live, and what a broken entry or a dead server does.


async def test_redis_entries_are_named_by_the_hash_and_expire_in_redis(
    redis_client: Redis, key_prefix: str
) -> None:
    await RedisResponseCache(redis_client, key_prefix).set("h" * 64, _response(), 60)
    ttl_ms = await redis_client.pttl(f"{key_prefix}:cache:{'h' * 64}")
    assert 59_000 < ttl_ms <= 60_000


async def test_an_unreadable_redis_entry_is_a_miss(redis_client: Redis, key_prefix: str) -> None:
    await redis_client.set(f"{key_prefix}:cache:{'i' * 64}", b'{"not": "a response"}', px=60_000)
    assert await RedisResponseCache(redis_client, key_prefix).get("i" * 64) is None


async def test_redis_down_is_store_unavailable() -> None:
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    cache = RedisResponseCache(dead)
    try:
        with pytest.raises(StoreUnavailableError):
            await cache.get("j" * 64)
        with pytest.raises(StoreUnavailableError):
            await cache.set("j" * 64, _response(), 60)
    finally:
        await dead.aclose()
