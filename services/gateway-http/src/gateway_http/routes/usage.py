"""``GET /v1/usage``: recorded requests, tokens and cost by key, model and UTC day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from gateway_core.domain.money import Money
from gateway_core.errors import InvalidRequestError, PermissionDeniedError
from gateway_core.ports.usage import UsageQuery, UsageTotal
from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_http.routes.raw_post import app_dependency

_MAX_DAYS = 366
_COUNTERS = ("requests", "cache_hits", "prompt_tokens", "completion_tokens", "cached_tokens",
             "total_tokens")  # fmt: skip


@get("/v1/usage")
async def read_usage(
    request: Request,
    caller: NamedDependency[ChatCaller],
    start: FromQuery[str | None] = None,
    end: FromQuery[str | None] = None,
    key_id: FromQuery[str | None] = None,
) -> dict:
    """Defaults: the current UTC month so far. A key sees its own usage; an admin key (and
    anyone when authentication is off) sees every key's, or one key's with ``key_id``."""
    today = datetime.now(UTC).date()
    first, last = _day(start, "start", today.replace(day=1)), _day(end, "end", today)
    if last < first or last - first > timedelta(days=_MAX_DAYS):
        raise InvalidRequestError(f"Give a range of 0 to {_MAX_DAYS} days.", param="end")
    usage_store: UsageQuery = await app_dependency(request, "usage_store")
    rows = await usage_store.totals(_whose(caller, key_id), first, last)
    return {
        "object": "list",
        "start": first.isoformat(),
        "end": last.isoformat(),
        "data": [_row(row) for row in rows],
        "totals": _totals(rows),
    }


def _whose(caller: ChatCaller, key_id: str | None) -> str | None:
    """The key id to report on; ``None`` means every key (admins only)."""
    sees_all = caller.key is None or caller.key.admin
    if key_id is not None and not sees_all and key_id != caller.key_id:
        raise PermissionDeniedError(
            "Only an admin key may read another key's usage.", param="key_id"
        )
    if key_id is not None:
        return key_id
    return None if sees_all else caller.key_id


def _row(row: UsageTotal) -> dict[str, Any]:
    counters = {name: getattr(row, name) for name in _COUNTERS}
    return {"key_id": row.key_id, "model": row.model, "day": row.day.isoformat(), **counters,
            "cost_usd": row.cost_usd.to_float()}  # fmt: skip


def _totals(rows: Sequence[UsageTotal]) -> dict[str, Any]:
    totals: dict[str, Any] = {name: sum(getattr(row, name) for row in rows) for name in _COUNTERS}
    # Added as Money, like the stores do: float sums would drift.
    totals["cost_usd"] = Money.total(row.cost_usd for row in rows).to_float()
    return totals


def _day(value: str | None, name: str, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"'{name}' must be a date like 2026-11-26.", param=name) from None
