from __future__ import annotations

from typing import Protocol

from gateway_core.domain.chat import ChatResponse


class ResponseCache(Protocol):
    """Exact-match store of completed responses, by a key from ``domain.cache_keys.cache_key``.

    Which requests and responses may be stored is the caller's decision (``is_cacheable``,
    ``is_storable``); the store keeps what it is given. Raises ``StoreUnavailableError`` when
    the backing store is down; an entry it cannot read back is a miss, not an error.
    """

    async def get(self, key: str) -> ChatResponse | None:
        """The stored response, or ``None`` when absent or expired."""
        ...

    async def set(self, key: str, response: ChatResponse, ttl_seconds: float) -> None:
        """Store ``response`` for ``ttl_seconds`` (> 0), replacing any entry under ``key``."""
        ...
