"""One deployment's health: a circuit breaker, a cooldown after 429s, the calls in flight and
an average latency (what the routing strategies read).

The circuit opens on ``failure_threshold`` consecutive failures, or a failure share of at
least ``failure_rate`` over the window once it holds ``min_requests`` calls. Open, it refuses
calls for ``open_seconds``; then it lets one probe through (half-open): success closes it,
failure opens it again. A 429 is not a fault of the deployment but a request to wait: it
rests the deployment for its Retry-After (capped), without counting as a failure.
"""

from __future__ import annotations

import enum

from gateway_core.domain.resilience import HealthSettings
from gateway_core.errors import (
    GatewayError,
    ProviderError,
    UpstreamAuthError,
    UpstreamRateLimitError,
    UpstreamResponseError,
)
from gateway_core.resilience.retry import is_transient
from gateway_core.resilience.window import SlidingCounts

LATENCY_SMOOTHING = 0.3
"""Weight of the newest latency in the moving average: recent enough to follow a slowdown."""


class CircuitState(enum.Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


def counts_against(error: GatewayError) -> bool:
    """Failures that say the deployment is unwell (a wrong key for it included); a rejected
    request (400, 404, 422) says nothing about it."""
    if isinstance(error, UpstreamRateLimitError):
        return False
    return is_transient(error) or isinstance(error, UpstreamAuthError | UpstreamResponseError)


class DeploymentHealth:
    __slots__ = (
        "_consecutive",
        "_cooling_until",
        "_opened_until",
        "_probing",
        "_settings",
        "_state",
        "_window",
        "in_flight",
        "latency",
    )  # fmt: skip

    def __init__(self, settings: HealthSettings) -> None:
        self._settings = settings
        self._window = SlidingCounts(settings.window_seconds)
        self._state = CircuitState.CLOSED
        self._opened_until = 0.0
        self._cooling_until = 0.0
        self._consecutive = 0
        self._probing = False
        self.in_flight = 0
        self.latency: float | None = None
        """Moving average of successful calls' latency (to the first byte for streams)."""

    def state(self, now: float) -> CircuitState:
        if self._state is CircuitState.OPEN and now >= self._opened_until:
            return CircuitState.HALF_OPEN
        return self._state

    def cooling_down(self, now: float) -> bool:
        return now < self._cooling_until

    def available(self, now: float) -> bool:
        """Whether a call may go to it now (a half-open circuit admits one probe at a time)."""
        if not self._settings.enabled:
            return True
        if now < self._cooling_until:
            return False
        state = self.state(now)
        if state is CircuitState.HALF_OPEN:
            return not self._probing
        return state is CircuitState.CLOSED

    def circuit_allows(self, now: float) -> bool:
        """Like ``available`` but ignoring a cooldown: for a retry that waits it out."""
        return not self._settings.enabled or self.state(now) is CircuitState.CLOSED

    def available_in(self, now: float) -> float:
        """Seconds until it may be called again (0 when it may now)."""
        until = max(
            self._cooling_until,
            self._opened_until if self._state is not CircuitState.CLOSED else 0.0,
        )
        return max(until - now, 0.0)

    def begin(self, now: float) -> None:
        self.in_flight += 1
        if self._settings.enabled and self.state(now) is CircuitState.HALF_OPEN:
            self._state = CircuitState.HALF_OPEN
            self._probing = True

    def succeeded(self, now: float, latency: float) -> None:
        self.in_flight -= 1
        average = self.latency
        self.latency = (
            latency if average is None else average + LATENCY_SMOOTHING * (latency - average)
        )
        self._healthy(now)

    def failed(self, now: float, error: GatewayError) -> None:
        self.in_flight -= 1
        if not self._settings.enabled or not isinstance(error, ProviderError):
            self._probing = False
            return
        if isinstance(error, UpstreamRateLimitError):
            self._cool_down(now, error.retry_after)
        elif counts_against(error):
            self._unhealthy(now)
        else:
            self._healthy(now)

    def abandoned(self) -> None:
        """The call was cancelled (its client went away): no verdict on the deployment."""
        self.in_flight -= 1
        self._probing = False

    def _healthy(self, now: float) -> None:
        if not self._settings.enabled:
            return
        self._consecutive = 0
        self._window.add(now, 1, 0)
        if self._state is not CircuitState.CLOSED and self._probing:
            self._state = CircuitState.CLOSED
        self._probing = False

    def _unhealthy(self, now: float) -> None:
        settings = self._settings
        self._consecutive += 1
        self._window.add(now, 0, 1)
        if (
            self._probing
            or self._consecutive >= settings.failure_threshold
            or self._rate_exceeded(now)
        ):
            self._state = CircuitState.OPEN
            self._opened_until = now + settings.open_seconds
        self._probing = False

    def _rate_exceeded(self, now: float) -> bool:
        successes, failures = self._window.totals(now)
        calls = successes + failures
        return (
            calls >= self._settings.min_requests and failures >= self._settings.failure_rate * calls
        )

    def _cool_down(self, now: float, retry_after: float | None) -> None:
        settings = self._settings
        rest = settings.rate_limit_cooldown_seconds if retry_after is None else retry_after
        self._cooling_until = max(
            self._cooling_until, now + min(rest, settings.rate_limit_cooldown_cap_seconds)
        )
        if self._probing:  # the probe learned nothing about the fault: stay open until it may
            self._state = CircuitState.OPEN
            self._opened_until = max(self._opened_until, self._cooling_until)
        self._probing = False
