"""The chat turn's exact-match cache: which turns may use it, lookups, stores, replays.

Only for requests the policy allows (by default temperature 0, one choice), keyed by
everything that changes the answer plus the caller's key id (see ``domain.cache_keys``).
Requests that engage the gateway's tools never use it: the tools' results may change. A cache
store that is down is a miss, never a failure (``on_store_error`` counts the loss).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field, replace

from gateway_core.domain.cache_keys import CacheUse, cache_key, is_cacheable, is_storable
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, ToolCallDelta
from gateway_core.errors import GatewayError, StoreUnavailableError
from gateway_core.ports.cache import ResponseCache


@dataclass(frozen=True, slots=True)
class CachePolicy:
    enabled: bool = True
    ttl_seconds: float = 300.0
    only_deterministic: bool = True


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """What the client asked of the gateway itself, beside the chat request."""

    session_id: str | None = None
    offer_all_tools: bool = False
    cache: CacheUse = field(default_factory=CacheUse)


StoreErrorHook = Callable[[str, GatewayError], None]


def ignore_store_error(_store: str, _error: GatewayError) -> None:
    return None


class TurnCache:
    def __init__(
        self,
        cache: ResponseCache | None,
        policy: CachePolicy | None = None,
        on_store_error: StoreErrorHook = ignore_store_error,
    ) -> None:
        self.cache = cache
        self.policy = policy or CachePolicy()
        self._on_store_error = on_store_error

    def key_for(
        self, request: ChatRequest, key_id: str, options: ChatOptions, engages_tools: bool
    ) -> str | None:
        """The entry's key, or ``None`` when this turn does not use the cache at all."""
        policy = self.policy
        if self.cache is None or not policy.enabled or engages_tools:
            return None
        if not (options.cache.read or options.cache.write):
            return None
        if not is_cacheable(request, only_deterministic=policy.only_deterministic):
            return None
        return cache_key(request, key_id)

    async def lookup(self, key: str, options: ChatOptions) -> ChatResponse | None:
        """A stored answer under a fresh id, or ``None`` (a miss, an opt-out, a down store)."""
        if not options.cache.read or self.cache is None:
            return None
        try:
            hit = await self.cache.get(key)
        except StoreUnavailableError as error:
            self._on_store_error("cache", error)
            return None
        return None if hit is None else replace(hit, id=f"chatcmpl-{uuid.uuid4().hex}")

    async def store(self, key: str | None, options: ChatOptions, response: ChatResponse) -> None:
        if key is None or self.cache is None or not options.cache.write:
            return
        if not is_storable(response):
            return
        try:
            await self.cache.set(key, response, self.policy.ttl_seconds)
        except StoreUnavailableError as error:
            self._on_store_error("cache", error)


async def replay(response: ChatResponse) -> AsyncGenerator[ChatChunk, None]:
    """A stored answer, as a stream: role, the whole text, the tool calls, the end."""
    choice = response.choices[0]
    message = choice.message
    yield ChatChunk(
        role="assistant", content=message.text or "", model=response.model,
        provider=response.provider,
    )  # fmt: skip
    for index, call in enumerate(message.tool_calls):
        yield ChatChunk(tool_calls=(ToolCallDelta(index, call.id, call.name, call.arguments),))
    yield ChatChunk(
        finish_reason=choice.finish_reason, native_finish_reason=choice.native_finish_reason
    )
    yield ChatChunk(usage=response.usage)
