from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from gateway_core.domain.evolve import direct_init
from gateway_core.domain.money import Money
from gateway_core.domain.usage import UsageEvent


@direct_init
@dataclass(frozen=True, slots=True)
class UsageTotal:
    """One client key's use of one model on one UTC day.

    Tokens and cost count what upstream providers processed; a response-cache hit adds one
    request and one ``cache_hits`` and nothing else.
    """

    key_id: str
    model: str
    day: date
    requests: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    """Prompt tokens the vendor served from its own prompt cache, as in ``Usage``."""
    cost_usd: Money

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def of(cls, event: UsageEvent) -> UsageTotal:
        """One event as a total (a cache hit: one request, one hit, nothing else)."""
        usage = event.upstream_usage
        return cls(
            key_id=event.key_id,
            model=event.model,
            day=event.day,
            requests=1,
            cache_hits=int(event.cached),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost_usd=event.cost_usd,
        )

    def __add__(self, other: UsageTotal) -> UsageTotal:
        """Two totals of one key, model and day; cost summed exactly. (Built directly, not
        with ``dataclasses.replace``: this runs once per answer, on its path.)"""
        return UsageTotal(
            key_id=self.key_id,
            model=self.model,
            day=self.day,
            requests=self.requests + other.requests,
            cache_hits=self.cache_hits + other.cache_hits,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


class UsageSink(Protocol):
    """Where token and cost events go; appends only, never read-modify-write.

    Raises ``StoreUnavailableError`` when the backing store is down.
    """

    async def record(self, event: UsageEvent) -> None: ...


class UsageQuery(Protocol):
    """Totals of recorded usage. Raises ``StoreUnavailableError`` when the store is down."""

    async def totals(self, key_id: str | None, start: date, end: date) -> list[UsageTotal]:
        """Totals per key, model and UTC day for ``start`` to ``end`` inclusive, ordered by
        day, key id and model. ``key_id`` ``None`` means every key (for an admin)."""
        ...


class UsageStore(UsageSink, UsageQuery, Protocol):
    """A sink that can also answer queries: what the in-memory and Redis stores implement."""
