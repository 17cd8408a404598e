"""``GET /v1/usage``: recorded requests, tokens and cost by key, model and UTC day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from litestar import get
from litestar.params import Dependency

from gateway_core.errors import InvalidRequestError, PermissionDeniedError
from gateway_core.ports.usage import UsageQuery
from gateway_core.use_cases.serve_chat import ChatCaller

_MAX_DAYS = 366


@get("/v1/usage")
async def read_usage(
    # A Protocol cannot be checked at run time: without skip_validation every call was a 500.
    usage_store: Annotated[UsageQuery, Dependency(skip_validation=True)],
    caller: ChatCaller,
    start: str | None = None,
    end: str | None = None,
    key_id: str | None = None,
) -> dict:
    """Defaults: the current UTC month so far. A key sees its own usage; an admin key (and
    anyone when authentication is off) sees every key's, or one key's with ``key_id``."""
    today = datetime.now(UTC).date()
    first, last = _day(start, "start", today.replace(day=1)), _day(end, "end", today)
    if last < first or last - first > timedelta(days=_MAX_DAYS):
        raise InvalidRequestError(f"Give a range of 0 to {_MAX_DAYS} days.", param="end")
    sees_all = caller.key is None or caller.key.admin
    if key_id is not None and not sees_all and key_id != caller.key_id:
        raise PermissionDeniedError("Only an admin key may read another key's usage.", param="key_id")
    scope = key_id if key_id is not None else (None if sees_all else caller.key_id)
    rows = await usage_store.totals(scope, first, last)
    data = [
        {
            "key_id": row.key_id,
            "model": row.model,
            "day": row.day.isoformat(),
            "requests": row.requests,
            "cache_hits": row.cache_hits,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "cached_tokens": row.cached_tokens,
            "total_tokens": row.total_tokens,
            "cost_usd": row.cost_usd,
        }
        for row in rows
    ]
    totals = {
        name: sum(item[name] for item in data)
        for name in ("requests", "cache_hits", "prompt_tokens", "completion_tokens", "total_tokens")
    }
    totals["cost_usd"] = round(sum(item["cost_usd"] for item in data), 10)
    return {"object": "list", "start": first.isoformat(), "end": last.isoformat(), "data": data, "totals": totals}


def _day(value: str | None, name: str, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"'{name}' must be a date like 2026-11-26.", param=name) from None
