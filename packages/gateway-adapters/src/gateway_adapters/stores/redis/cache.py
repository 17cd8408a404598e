"""The response cache in Redis: one string per answer, ``SET ... PX`` so Redis expires it.

Keys are ``<prefix>:cache:<sha256>``; the hash already covers the tenant, so no key id or
API key appears in the name. Values are the answer as JSON (``stores.codec``). An entry that
cannot be decoded (written by an incompatible release, say) is a miss and is overwritten by
the next store; it is not an error the client should see.
"""

from __future__ import annotations

import math

import msgspec
from redis.asyncio import Redis

from gateway_adapters.stores.codec import decode_response, encode_response
from gateway_adapters.stores.redis.errors import translated_redis_errors
from gateway_core.domain.chat import ChatResponse

_STORE = "response cache"
_UNREADABLE = (msgspec.DecodeError, KeyError, TypeError, ValueError, AttributeError)


class RedisResponseCache:
    """A ``ResponseCache`` shared by every gateway replica using the same Redis."""

    def __init__(self, client: Redis, key_prefix: str = "llmgw") -> None:
        self._client = client
        self._key_prefix = key_prefix

    def _name(self, key: str) -> str:
        return f"{self._key_prefix}:cache:{key}"

    async def get(self, key: str) -> ChatResponse | None:
        with translated_redis_errors(_STORE):
            raw = await self._client.get(self._name(key))
        if raw is None:
            return None
        try:
            return decode_response(raw)
        except _UNREADABLE:
            return None

    async def set(self, key: str, response: ChatResponse, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        # PX takes whole milliseconds; rounding up keeps a sub-millisecond TTL from being 0.
        ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        with translated_redis_errors(_STORE):
            await self._client.set(self._name(key), encode_response(response), px=ttl_ms)
