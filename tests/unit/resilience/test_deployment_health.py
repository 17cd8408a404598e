"""A deployment's circuit breaker, its 429 cooldown, and what the strategies read."""

from __future__ import annotations

from dataclasses import replace

from gateway_core.domain.resilience import HealthSettings
from gateway_core.errors import (
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamRateLimitError,
    UpstreamServerError,
)
from gateway_core.resilience.health import CircuitState, DeploymentHealth

SETTINGS = HealthSettings(
    enabled=True, failure_threshold=3, failure_rate=0.5, min_requests=10, window_seconds=10.0,
    open_seconds=5.0, rate_limit_cooldown_seconds=2.0, rate_limit_cooldown_cap_seconds=8.0,
)  # fmt: skip
FAIL = UpstreamServerError("x", status=500)


def call(health: DeploymentHealth, now: float, error: Exception | None = None) -> None:
    health.begin(now)
    if error is None:
        health.succeeded(now, 0.1)
    else:
        health.failed(now, error)  # type: ignore[arg-type]


def test_consecutive_failures_open_the_circuit() -> None:
    health = DeploymentHealth(SETTINGS)
    for _ in range(2):
        call(health, 0.0, FAIL)
    assert health.state(0.0) is CircuitState.CLOSED
    call(health, 0.0, FAIL)
    assert health.state(0.0) is CircuitState.OPEN
    assert not health.available(4.9)
    assert health.available_in(1.0) == 4.0


def test_a_success_resets_the_consecutive_count() -> None:
    health = DeploymentHealth(replace(SETTINGS, failure_rate=0.9))
    for _ in range(5):
        call(health, 0.0, FAIL)
        call(health, 0.0, FAIL)
        call(health, 0.0)
    assert health.state(0.0) is CircuitState.CLOSED


def test_a_failure_rate_over_the_window_opens_the_circuit() -> None:
    health = DeploymentHealth(SETTINGS)
    for _ in range(4):
        call(health, 1.0)
        call(health, 1.0, FAIL)
    assert health.state(1.0) is CircuitState.CLOSED  # 8 calls: under min_requests
    call(health, 1.0)
    call(health, 1.0, FAIL)
    assert health.state(1.0) is CircuitState.OPEN  # 10 calls, half failed


def test_half_open_admits_one_probe_and_its_success_closes() -> None:
    health = DeploymentHealth(SETTINGS)
    for _ in range(3):
        call(health, 0.0, FAIL)
    assert health.state(5.0) is CircuitState.HALF_OPEN and health.available(5.0)
    health.begin(5.0)
    assert not health.available(5.0), "one probe at a time"
    health.succeeded(5.1, 0.1)
    assert health.state(5.1) is CircuitState.CLOSED and health.available(5.1)


def test_a_failed_probe_opens_the_circuit_again() -> None:
    health = DeploymentHealth(SETTINGS)
    for _ in range(3):
        call(health, 0.0, FAIL)
    call(health, 5.0, FAIL)
    assert health.state(5.0) is CircuitState.OPEN
    assert not health.available(9.9) and health.available(10.0)


def test_a_429_rests_the_deployment_for_its_retry_after_capped() -> None:
    health = DeploymentHealth(SETTINGS)
    call(health, 0.0, UpstreamRateLimitError("x", status=429, retry_after=3.0))
    assert health.cooling_down(2.9) and not health.available(2.9)
    assert health.available(3.0)
    assert health.state(0.0) is CircuitState.CLOSED, "a 429 is no failure"
    call(health, 10.0, UpstreamRateLimitError("x", status=429, retry_after=600.0))
    assert not health.available(17.9) and health.available(18.0)
    call(health, 20.0, UpstreamRateLimitError("x", status=429))
    assert not health.available(21.9) and health.available(22.0)


def test_rejected_requests_say_nothing_against_the_deployment() -> None:
    health = DeploymentHealth(SETTINGS)
    for _ in range(10):
        call(health, 0.0, UpstreamBadRequestError("x", status=400))
    assert health.state(0.0) is CircuitState.CLOSED


def test_a_wrong_key_counts_against_the_deployment() -> None:
    health = DeploymentHealth(SETTINGS)
    for _ in range(3):
        call(health, 0.0, UpstreamAuthError("x", status=401))
    assert health.state(0.0) is CircuitState.OPEN


def test_disabled_health_never_refuses() -> None:
    health = DeploymentHealth(HealthSettings(enabled=False))
    for _ in range(50):
        call(health, 0.0, FAIL)
    call(health, 0.0, UpstreamRateLimitError("x", status=429, retry_after=30.0))
    assert health.available(0.0)


def test_in_flight_and_latency_average() -> None:
    health = DeploymentHealth(SETTINGS)
    health.begin(0.0)
    health.begin(0.0)
    assert health.in_flight == 2
    health.succeeded(1.0, 1.0)
    health.abandoned()
    assert health.in_flight == 0
    assert health.latency == 1.0
    health.begin(1.0)
    health.succeeded(1.0, 2.0)
    assert abs(health.latency - 1.3) < 1e-9
