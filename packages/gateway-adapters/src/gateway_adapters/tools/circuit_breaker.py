"""A circuit breaker per tool backend: fail fast while a downstream keeps failing.

closed --(``failure_threshold`` consecutive failures)--> open --(``cooldown_seconds``)-->
half-open: one trial call; its success closes the circuit, its failure opens it again.
While open (or while the trial runs) calls fail at once with ``ToolUnavailableError`` whose
``retry_after`` is the time left. Only ``ToolUnavailableError`` counts as a failure: a 404 or
a rejected call means the downstream answered, so it is up.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from gateway_core.errors import GatewayError, ToolUnavailableError
from gateway_core.ports.clock import Clock
from gateway_core.ports.tools import ToolBackend

CIRCUIT_OPEN_CODE = "tool_circuit_open"

# What a caller is told to wait while another call is the half-open trial.
_TRIAL_RETRY_AFTER = 1.0


class CircuitState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """The state machine only; time comes from the injected ``Clock`` (monotonic)."""

    def __init__(
        self, clock: Clock, *, failure_threshold: int = 5, cooldown_seconds: float = 30.0
    ) -> None:
        if failure_threshold < 1 or cooldown_seconds <= 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_seconds > 0.")
        self._clock = clock
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._remaining() > 0:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def _remaining(self) -> float:
        assert self._opened_at is not None
        return self._opened_at + self._cooldown - self._clock.monotonic()

    def before_call(self, backend: str) -> None:
        """Let the call through, or raise ``ToolUnavailableError`` (code tool_circuit_open)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return
        if state is CircuitState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return
        wait = self._remaining() if state is CircuitState.OPEN else _TRIAL_RETRY_AFTER
        raise ToolUnavailableError(
            f"The {backend} tool service keeps failing; the gateway stopped calling it for now.",
            code=CIRCUIT_OPEN_CODE,
            retry_after=wait,
        )

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self._threshold:
            self._opened_at = self._clock.monotonic()
        self._trial_running = False

    def release_trial(self) -> None:
        """The trial ended without a verdict (cancelled): let the next call try."""
        self._trial_running = False


class CircuitBreakerBackend:
    """A ``ToolBackend`` that guards another one with a ``CircuitBreaker``."""

    def __init__(self, inner: ToolBackend, breaker: CircuitBreaker) -> None:
        self.name = inner.name
        self.inner = inner
        self.breaker = breaker

    async def execute(self, tool_name: str, arguments: Mapping[str, Any]) -> Any:
        self.breaker.before_call(self.name)
        try:
            result = await self.inner.execute(tool_name, arguments)
        except ToolUnavailableError:
            self.breaker.record_failure()
            raise
        except GatewayError:
            # The downstream answered (404, a rejected call): it is up.
            self.breaker.record_success()
            raise
        except BaseException:
            # Cancelled, or a bug: no verdict on the downstream's health.
            self.breaker.release_trial()
            raise
        self.breaker.record_success()
        return result
