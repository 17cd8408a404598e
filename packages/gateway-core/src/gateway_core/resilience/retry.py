"""Which failures are worth another attempt at the same deployment, how long to wait first,
and the budget that keeps retries from amplifying an outage.

Retried: 429, 5xx, 529 (overloaded), connect errors and timeouts. Never: 400, 401, 403, 404,
422 (the same request would fail the same way), nor an unreadable answer (it may have cost
money). A different deployment or a fallback may still be tried for any retryable error.
"""

from __future__ import annotations

from random import Random

from gateway_core.domain.resilience import RetrySettings
from gateway_core.errors import (
    GatewayError,
    UpstreamConnectionError,
    UpstreamOverloadedError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from gateway_core.resilience.window import SlidingCounts

_TRANSIENT = (
    UpstreamRateLimitError,
    UpstreamOverloadedError,
    UpstreamServerError,
    UpstreamTimeoutError,
    UpstreamConnectionError,
)
_NEVER_STATUSES = frozenset({400, 401, 403, 404, 422})


def is_transient(error: GatewayError) -> bool:
    """Whether the same deployment may answer differently if asked again."""
    if not isinstance(error, _TRANSIENT):
        return False
    return getattr(error, "status", None) not in _NEVER_STATUSES


def retry_delay(
    error: GatewayError, retry_number: int, settings: RetrySettings, random: Random
) -> float | None:
    """Seconds to wait before retry ``retry_number`` (1 for the first) of the same deployment,
    or ``None`` when it must not be retried: its Retry-After exceeds the cap."""
    if error.retry_after is not None:
        if error.retry_after > settings.retry_after_cap_seconds:
            return None
        return error.retry_after
    ceiling = settings.backoff_base_seconds * 2 ** (retry_number - 1)
    return random.uniform(0.0, min(settings.backoff_max_seconds, ceiling))


class RetryBudget:
    """Retries at most ``ratio`` of the requests seen over the window, or ``min_retries``,
    whichever is more (Envoy's retry budget, counted over time instead of concurrency)."""

    __slots__ = ("_counts", "_min", "_ratio")

    def __init__(self, settings: RetrySettings) -> None:
        self._counts = SlidingCounts(settings.budget_window_seconds)
        self._ratio = settings.budget_ratio
        self._min = settings.budget_min_retries

    def note_request(self, now: float) -> None:
        self._counts.add(now, 1, 0)

    def try_spend(self, now: float) -> bool:
        """Take one retry from the budget; ``False`` (nothing taken) when it is spent."""
        requests, retries = self._counts.totals(now)
        if retries >= max(self._min, self._ratio * requests):
            return False
        self._counts.add(now, 0, 1)
        return True
