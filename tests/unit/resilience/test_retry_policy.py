"""Which failures are retried, how long before, and the retry budget."""

from __future__ import annotations

from random import Random

import pytest

from gateway_core.domain.resilience import RetrySettings
from gateway_core.errors import (
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamOverloadedError,
    UpstreamRateLimitError,
    UpstreamResponseError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from gateway_core.resilience.retry import RetryBudget, is_transient, retry_delay

SETTINGS = RetrySettings(
    max_attempts=3, backoff_base_seconds=0.1, backoff_max_seconds=0.3, retry_after_cap_seconds=2.0
)


@pytest.mark.parametrize(
    "error",
    [
        UpstreamRateLimitError("x", status=429),
        UpstreamServerError("x", status=500),
        UpstreamServerError("x", status=502),
        UpstreamOverloadedError("x", status=529),
        UpstreamOverloadedError("x", status=503),
        UpstreamTimeoutError("x"),
        UpstreamConnectionError("x"),
    ],
    ids=lambda e: f"{type(e).__name__}-{e.status}",
)
def test_transient_failures_are_retried(error: ProviderError) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        UpstreamBadRequestError("x", status=400),
        UpstreamAuthError("x", status=401),
        UpstreamAuthError("x", status=403),
        UpstreamBadRequestError("x", status=404),
        UpstreamBadRequestError("x", status=422),
        UpstreamResponseError("x", status=200),
        # A vendor table mapping a 4xx to a transient class still must not be retried.
        UpstreamServerError("x", status=400),
    ],
    ids=lambda e: f"{type(e).__name__}-{e.status}",
)
def test_client_errors_and_unreadable_answers_are_never_retried(error: ProviderError) -> None:
    assert not is_transient(error)


def test_backoff_is_full_jitter_doubling_up_to_the_maximum() -> None:
    random = Random(7)
    error = UpstreamServerError("x", status=500)
    for retry, ceiling in ((1, 0.1), (2, 0.2), (3, 0.3), (6, 0.3)):
        delays = [retry_delay(error, retry, SETTINGS, random) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)  # type: ignore[operator]
        assert max(delays) > ceiling * 0.8  # type: ignore[type-var]
        assert min(delays) < ceiling * 0.2  # type: ignore[type-var]


def test_a_retry_after_within_the_cap_is_the_delay() -> None:
    error = UpstreamRateLimitError("x", status=429, retry_after=1.5)
    assert retry_delay(error, 1, SETTINGS, Random(1)) == 1.5


def test_a_retry_after_beyond_the_cap_means_no_retry() -> None:
    error = UpstreamRateLimitError("x", status=429, retry_after=2.5)
    assert retry_delay(error, 1, SETTINGS, Random(1)) is None


def test_the_budget_allows_its_minimum_then_its_share_of_requests() -> None:
    settings = RetrySettings(budget_ratio=0.25, budget_min_retries=2, budget_window_seconds=10.0)
    budget = RetryBudget(settings)
    now = 100.0
    assert [budget.try_spend(now) for _ in range(3)] == [True, True, False]
    for _ in range(20):  # 20 requests: a quarter is 5 retries in the window
        budget.note_request(now)
    assert [budget.try_spend(now) for _ in range(4)] == [True, True, True, False]


def test_the_budget_refills_as_the_window_slides() -> None:
    budget = RetryBudget(
        RetrySettings(budget_ratio=0.0, budget_min_retries=1, budget_window_seconds=10.0)
    )
    assert budget.try_spend(0.0)
    assert not budget.try_spend(5.0)
    assert budget.try_spend(10.5)
