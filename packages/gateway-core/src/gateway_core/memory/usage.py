"""Usage totals in this process's memory, with the same contract as the Redis store.

Counters per key, model and UTC day, cost in integer picodollars so that sums stay exact.
Days older than ``retention_days`` (by the injected clock) are dropped, like the Redis keys'
expiry, so memory does not grow for ever in a long-running embedded gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from gateway_core.domain.money import Money
from gateway_core.domain.usage import UsageEvent
from gateway_core.ports.clock import Clock
from gateway_core.ports.usage import UsageTotal

DEFAULT_RETENTION_DAYS = 400


@dataclass(slots=True)
class _Counters:
    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_picodollars: int = 0

    def add(self, event: UsageEvent) -> None:
        usage = event.upstream_usage
        self.requests += 1
        self.cache_hits += int(event.cached)
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cached_tokens += usage.cached_tokens
        self.cost_picodollars += event.cost_usd.picodollars


class InMemoryUsageStore:
    """A ``UsageStore`` (sink and query) for one process. Never raises ``StoreUnavailableError``."""

    def __init__(self, clock: Clock, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self._clock = clock
        self._retention = timedelta(days=retention_days)
        self._counters: dict[tuple[str, str, date], _Counters] = {}
        self._days: set[date] = set()

    async def record(self, event: UsageEvent) -> None:
        day = event.day
        if day not in self._days:
            self._days.add(day)
            self._forget_old_days()
        self._counters.setdefault((event.key_id, event.model, day), _Counters()).add(event)

    async def totals(self, key_id: str | None, start: date, end: date) -> list[UsageTotal]:
        rows = [
            _total(row_key, row_day, model, counters)
            for (row_key, model, row_day), counters in self._counters.items()
            if (key_id is None or row_key == key_id) and start <= row_day <= end
        ]
        return sorted(rows, key=lambda row: (row.day, row.key_id, row.model))

    def _forget_old_days(self) -> None:
        oldest = datetime.fromtimestamp(self._clock.now(), tz=UTC).date() - self._retention
        stale = {day for day in self._days if day < oldest}
        if not stale:
            return
        self._days -= stale
        for row in [row for row in self._counters if row[2] in stale]:
            del self._counters[row]


def _total(key_id: str, day: date, model: str, counters: _Counters) -> UsageTotal:
    return UsageTotal(
        key_id=key_id,
        model=model,
        day=day,
        requests=counters.requests,
        cache_hits=counters.cache_hits,
        prompt_tokens=counters.prompt_tokens,
        completion_tokens=counters.completion_tokens,
        cached_tokens=counters.cached_tokens,
        cost_usd=Money(counters.cost_picodollars),
    )
