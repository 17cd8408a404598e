"""Settings of the provider path's resilience: retries, the retry budget, deployment health.

Pure values, resolved once from configuration (global <- provider <- model) and carried by
each ``Deployment``. ``RetrySettings()`` and ``HealthSettings()`` are what a configuration
without a ``retry`` or ``health`` section gets: one attempt and no circuit breaker, exactly
the gateway's behaviour before these settings existed. The shipped ``config/providers.json``
turns both on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RoutingStrategy = Literal["weighted", "least_in_flight", "lowest_latency"]
ROUTING_STRATEGIES: tuple[RoutingStrategy, ...] = ("weighted", "least_in_flight", "lowest_latency")


@dataclass(frozen=True, slots=True)
class RetrySettings:
    max_attempts: int = 1
    """Attempts per model group (the first included) before its fallbacks are tried."""
    backoff_base_seconds: float = 0.25
    backoff_max_seconds: float = 4.0
    """Full jitter: the n-th retry waits uniformly in [0, min(max, base * 2**(n-1))]."""
    retry_after_cap_seconds: float = 5.0
    """A Retry-After up to this is waited for; beyond it, no wait: fail over or give up."""
    budget_ratio: float = 0.2
    """Retries at most this share of the provider's requests over the window (Envoy-style)..."""
    budget_min_retries: int = 10
    """...but always at least this many per window, so a quiet gateway can still retry."""
    budget_window_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class HealthSettings:
    enabled: bool = False
    failure_threshold: int = 5
    """Consecutive failures that open the circuit."""
    failure_rate: float = 0.5
    """A failure share over the window that opens the circuit too..."""
    min_requests: int = 20
    """...once the window holds at least this many calls."""
    window_seconds: float = 30.0
    open_seconds: float = 30.0
    """How long an open circuit refuses calls before one half-open probe is let through."""
    rate_limit_cooldown_seconds: float = 5.0
    """Cooldown after a 429 that carried no Retry-After."""
    rate_limit_cooldown_cap_seconds: float = 60.0
    """A 429's Retry-After rests the deployment for at most this long."""
