"""Attempts, retries and deployment states in the Prometheus exposition."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gateway_core.domain.resilience import HealthSettings
from gateway_core.domain.routing import Deployment, Target
from gateway_core.errors import UpstreamRateLimitError, UpstreamServerError
from gateway_core.resilience.planner import AttemptPlanner
from gateway_core.testing.clock import FakeClock
from gateway_http.observability.metrics import GatewayMetrics

HEALTH = HealthSettings(enabled=True, failure_threshold=1, open_seconds=5.0)
EAST = Deployment(Target("east", "gpt-4o"), "gpt-4o@east", health=HEALTH)
WEST = Deployment(Target("west", "gpt-4o"), "gpt-4o@west", health=HEALTH)


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_attempts_and_retries_are_counted_per_deployment() -> None:
    metrics = GatewayMetrics()
    metrics.attempted(EAST, False)
    metrics.attempted(EAST, True)
    metrics.attempted(WEST, False)
    samples = _samples(metrics)
    east = (("deployment", "gpt-4o@east"), ("provider", "east"))
    west = (("deployment", "gpt-4o@west"), ("provider", "west"))
    assert samples[("llm_gateway_upstream_attempts_total", east)] == 2
    assert samples[("llm_gateway_upstream_retries_total", east)] == 1
    assert samples[("llm_gateway_upstream_attempts_total", west)] == 1
    assert ("llm_gateway_upstream_retries_total", west) not in samples


def test_circuit_states_and_cooldowns_are_read_at_each_scrape() -> None:
    clock = FakeClock()
    planner = AttemptPlanner(clock)
    planner.watch([EAST, WEST])
    metrics = GatewayMetrics()
    metrics.watch_deployments(planner)
    planner.health(EAST).begin(0.0)
    planner.health(EAST).failed(0.0, UpstreamServerError("x", status=500))
    planner.health(WEST).begin(0.0)
    planner.health(WEST).failed(0.0, UpstreamRateLimitError("x", status=429, retry_after=2.0))

    def state(name: str) -> tuple[float, float]:
        samples = _samples(metrics)
        labels = (("deployment", name),)
        return (
            samples[("llm_gateway_deployment_circuit_state", labels)],
            samples[("llm_gateway_deployment_cooling_down", labels)],
        )

    assert state("gpt-4o@east") == (2, 0)
    assert state("gpt-4o@west") == (0, 1)
    clock.advance(5.0)
    assert state("gpt-4o@east") == (1, 0)
    assert state("gpt-4o@west") == (0, 0)
