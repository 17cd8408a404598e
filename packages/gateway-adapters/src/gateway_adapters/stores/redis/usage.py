"""Usage totals in Redis: counters per key, model and UTC day, only ever incremented.

Layout (``{key_id}`` is a Redis Cluster hash tag, so one key's data shares a slot)::

    <prefix>:usage:{<key_id>}:<YYYY-MM-DD>   hash  "<counter>:<model>" -> integer
    <prefix>:usage:{<key_id>}:days           zset  "<YYYY-MM-DD>" scored by its ordinal
    <prefix>:usage:keys                      set   key ids, for the admin's all-keys query

Recording is one ``SADD`` to the index, then one ``MULTI`` of ``HINCRBY``s and index updates
per key id (its keys share a slot, so this holds on Redis Cluster too): no read on the request
path, so concurrent replicas never lose an update. A key's counters are written whole or not
at all; when a later key's transaction fails, ``UsageWriteError`` says which keys were written,
so that a retry never counts them twice. Cost is counted in integer picodollars with
``HINCRBY`` (``HINCRBYFLOAT`` would drift: Redis stores it as a long double). Model names may
contain ``:`` (``qwen3:8b``); counter names never do, so a field splits on its first ``:``.
Day hashes and the day index expire ``retention_days`` after their last write.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from itertools import groupby

from redis.asyncio import Redis

from gateway_adapters.stores.buffered_usage import UsageWriteError
from gateway_adapters.stores.redis.errors import store_unavailable, translated_redis_errors
from gateway_core.domain.money import Money
from gateway_core.domain.usage import UsageEvent
from gateway_core.ports.usage import UsageTotal

_STORE = "usage"
DEFAULT_RETENTION_DAYS = 400
_SECONDS_PER_DAY = 86_400


class RedisUsageStore:
    """A ``UsageStore`` (sink and query) shared by every gateway replica."""

    def __init__(
        self,
        client: Redis,
        key_prefix: str = "llmgw",
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self._client = client
        self._prefix = f"{key_prefix}:usage"
        self._retention_days = retention_days

    def _day_name(self, key_id: str, day: date) -> str:
        return f"{self._prefix}:{{{key_id}}}:{day.isoformat()}"

    def _days_name(self, key_id: str) -> str:
        return f"{self._prefix}:{{{key_id}}}:days"

    async def record(self, event: UsageEvent) -> None:
        await self.add_totals((UsageTotal.of(event),))

    async def add_totals(self, totals: Iterable[UsageTotal]) -> None:
        """Add whole totals (for ``BufferedUsageStore``): one transaction per key id."""
        by_key = sorted(totals, key=lambda total: total.key_id)
        if not by_key:
            return
        with translated_redis_errors(_STORE):
            await self._client.sadd(f"{self._prefix}:keys", *{t.key_id for t in by_key})
        written: set[str] = set()
        for key_id, rows in groupby(by_key, key=lambda total: total.key_id):
            try:
                await self._add_key_totals(key_id, list(rows))
            except Exception as error:
                translated = store_unavailable(error, _STORE)
                if translated is None:
                    raise
                raise UsageWriteError(translated.message, frozenset(written)) from error
            written.add(key_id)

    async def _add_key_totals(self, key_id: str, totals: Sequence[UsageTotal]) -> None:
        ttl = self._retention_days * _SECONDS_PER_DAY
        days_name = self._days_name(key_id)
        pipe = self._client.pipeline(transaction=True)
        for total in totals:
            day_name = self._day_name(key_id, total.day)
            for counter, amount in _increments(total).items():
                if amount:
                    pipe.hincrby(day_name, f"{counter}:{total.model}", amount)
            pipe.expire(day_name, ttl)
            pipe.zadd(days_name, {total.day.isoformat(): total.day.toordinal()})
        # Forget index entries whose day hash has expired: still no read on this path.
        oldest = max(total.day for total in totals).toordinal() - self._retention_days
        pipe.zremrangebyscore(days_name, "-inf", f"({oldest}")
        pipe.expire(days_name, ttl)
        await pipe.execute()

    async def totals(self, key_id: str | None, start: date, end: date) -> list[UsageTotal]:
        with translated_redis_errors(_STORE):
            key_ids = [key_id] if key_id is not None else await self._all_key_ids()
            days = await self._days_in_range(key_ids, start, end)
            hashes = await self._read_days(days)
        rows = [
            row
            for (row_key, day), fields in zip(days, hashes, strict=True)
            for row in _rows(row_key, day, fields)
        ]
        return sorted(rows, key=lambda row: (row.day, row.key_id, row.model))

    async def _all_key_ids(self) -> list[str]:
        members = await self._client.smembers(f"{self._prefix}:keys")
        return sorted(_text(member) for member in members)

    async def _days_in_range(
        self, key_ids: Sequence[str], start: date, end: date
    ) -> list[tuple[str, date]]:
        pipe = self._client.pipeline(transaction=False)
        for key_id in key_ids:
            pipe.zrangebyscore(self._days_name(key_id), start.toordinal(), end.toordinal())
        members = await pipe.execute()
        return [
            (key_id, date.fromisoformat(_text(day)))
            for key_id, days in zip(key_ids, members, strict=True)
            for day in days
        ]

    async def _read_days(self, days: Sequence[tuple[str, date]]) -> list[Mapping[object, object]]:
        pipe = self._client.pipeline(transaction=False)
        for key_id, day in days:
            pipe.hgetall(self._day_name(key_id, day))
        return list(await pipe.execute())


def _increments(total: UsageTotal) -> dict[str, int]:
    return {
        "requests": total.requests,
        "cache_hits": total.cache_hits,
        "prompt_tokens": total.prompt_tokens,
        "completion_tokens": total.completion_tokens,
        "cached_tokens": total.cached_tokens,
        "cost_picodollars": total.cost_usd.picodollars,
    }


def _rows(key_id: str, day: date, fields: Mapping[object, object]) -> list[UsageTotal]:
    by_model: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for field, value in fields.items():
        counter, _, model = _text(field).partition(":")
        by_model[model][counter] = int(_text(value))
    return [
        UsageTotal(
            key_id=key_id,
            model=model,
            day=day,
            requests=counters.get("requests", 0),
            cache_hits=counters.get("cache_hits", 0),
            prompt_tokens=counters.get("prompt_tokens", 0),
            completion_tokens=counters.get("completion_tokens", 0),
            cached_tokens=counters.get("cached_tokens", 0),
            cost_usd=Money(counters.get("cost_picodollars", 0)),
        )
        for model, counters in by_model.items()
    ]


def _text(value: object) -> str:
    """Redis answers bytes unless the client was made with ``decode_responses=True``."""
    return value.decode() if isinstance(value, bytes) else str(value)
