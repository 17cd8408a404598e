"""Stored Responses API answers in Redis: one JSON string per response, ``SET ... PX``.

Keys are ``<prefix>:response:<id>``; the value holds the owner (the client key id, or null),
the ``response`` object, the request's input items and the whole conversation. Another
owner's response reads as absent, exactly like a missing one. An entry that cannot be decoded
(an incompatible release wrote it) is absent too.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from redis.asyncio import Redis

from gateway_adapters.stores.redis.errors import translated_redis_errors
from gateway_core.ports.responses import StoredResponse

_STORE = "response"
_UNREADABLE = (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError)


class _Entry(msgspec.Struct):
    owner: str | None
    response: dict[str, Any]
    input_items: list[Any]
    conversation: list[Any]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Entry)


class RedisResponseStore:
    """A ``ResponseStore`` shared by every replica using the same Redis."""

    def __init__(self, client: Redis, key_prefix: str = "llmgw") -> None:
        self._client = client
        self._prefix = key_prefix

    def _name(self, response_id: str) -> str:
        return f"{self._prefix}:response:{response_id}"

    async def put(self, stored: StoredResponse, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        entry = _Entry(stored.owner, dict(stored.response), list(stored.input_items),
                       list(stored.conversation))  # fmt: skip
        ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        with translated_redis_errors(_STORE):
            await self._client.set(self._name(stored.id), _encoder.encode(entry), px=ttl_ms)

    async def get(self, response_id: str, owner: str | None) -> StoredResponse | None:
        with translated_redis_errors(_STORE):
            raw = await self._client.get(self._name(response_id))
        if raw is None:
            return None
        try:
            entry = _decoder.decode(raw)
        except _UNREADABLE:
            return None
        if entry.owner != owner:
            return None
        return StoredResponse(response_id, entry.owner, entry.response, entry.input_items,
                              entry.conversation)  # fmt: skip

    async def delete(self, response_id: str, owner: str | None) -> bool:
        if await self.get(response_id, owner) is None:
            return False
        with translated_redis_errors(_STORE):
            return bool(await self._client.delete(self._name(response_id)))
