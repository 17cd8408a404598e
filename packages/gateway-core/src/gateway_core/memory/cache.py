"""A response cache in this process's memory: least-recently-used eviction and a TTL per entry.

Expiry follows the injected clock's ``monotonic`` time, so tests move time instead of sleeping
and a wall-clock jump cannot expire (or revive) entries.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from gateway_core.domain.chat import ChatResponse
from gateway_core.ports.clock import Clock


@dataclass(frozen=True, slots=True)
class _Entry:
    response: ChatResponse
    expires_at: float


class InMemoryResponseCache:
    """A ``ResponseCache`` for one process holding at most ``max_entries`` answers.

    Never raises ``StoreUnavailableError``. Responses are immutable values, so they are kept
    as they are, not copied.
    """

    def __init__(self, clock: Clock, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def get(self, key: str) -> ChatResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.response

    async def set(self, key: str, response: ChatResponse, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        self._entries[key] = _Entry(response, self._clock.monotonic() + ttl_seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
