"""Stored responses in this process's memory, expiring by the injected clock."""

from __future__ import annotations

from gateway_core.ports.clock import Clock
from gateway_core.ports.responses import StoredResponse

_SWEEP_EVERY = 256
"""Expired entries nobody reads again are dropped every this many writes."""


class InMemoryResponseStore:
    """A ``ResponseStore`` for one process; never raises ``StoreUnavailableError``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[StoredResponse, float]] = {}
        self._writes = 0

    async def put(self, stored: StoredResponse, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock.now()
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
        self._entries[stored.id] = (stored, self._clock.now() + ttl_seconds)

    async def get(self, response_id: str, owner: str | None) -> StoredResponse | None:
        entry = self._entries.get(response_id)
        if entry is None or entry[1] <= self._clock.now() or entry[0].owner != owner:
            return None
        return entry[0]

    async def delete(self, response_id: str, owner: str | None) -> bool:
        if await self.get(response_id, owner) is None:
            return False
        del self._entries[response_id]
        return True
