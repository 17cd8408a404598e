"""The routing strategies: which of a group's available deployments takes the next call.

- ``weighted``: at random, in proportion to the weights (spreads load by quota)
- ``least_in_flight``: the fewest calls in flight, then the higher weight (evens out queues)
- ``lowest_latency``: the lowest moving-average latency; one never measured goes first, so
  every deployment gets measured
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from random import Random

from gateway_core.domain.resilience import RoutingStrategy
from gateway_core.domain.routing import Deployment
from gateway_core.resilience.health import DeploymentHealth

HealthOf = Callable[[Deployment], DeploymentHealth]


def choose(
    strategy: RoutingStrategy,
    candidates: Sequence[Deployment],
    health_of: HealthOf,
    random: Random,
) -> Deployment:
    """One of ``candidates`` (not empty) by ``strategy``."""
    if len(candidates) == 1:
        return candidates[0]
    if strategy == "least_in_flight":
        return min(candidates, key=lambda d: (health_of(d).in_flight, -d.weight))
    if strategy == "lowest_latency":
        return min(candidates, key=lambda d: _latency_key(health_of(d).latency))
    return _weighted(candidates, random)


def _latency_key(latency: float | None) -> float:
    return -1.0 if latency is None else latency


def _weighted(candidates: Sequence[Deployment], random: Random) -> Deployment:
    point = random.uniform(0.0, sum(d.weight for d in candidates))
    for deployment in candidates:
        point -= deployment.weight
        if point <= 0.0:
            return deployment
    return candidates[-1]
