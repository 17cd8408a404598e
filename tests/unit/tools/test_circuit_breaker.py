"""The per-backend circuit breaker, driven by a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from gateway_adapters.tools import CIRCUIT_OPEN_CODE, CircuitBreaker, CircuitBreakerBackend
from gateway_adapters.tools import CircuitState as State
from gateway_core.errors import (
    ToolExecutionError,
    ToolItemNotFoundError,
    ToolTimeoutError,
    ToolUnavailableError,
)
from gateway_core.testing import FakeClock
from tests.unit.tools.fakes import RecordingBackend


def _guarded(
    answer: object, threshold: int = 3, cooldown: float = 30.0
) -> tuple[CircuitBreakerBackend, RecordingBackend, FakeClock]:
    clock = FakeClock()
    inner = RecordingBackend(name="search", answers={"t": answer})
    breaker = CircuitBreaker(clock, failure_threshold=threshold, cooldown_seconds=cooldown)
    return CircuitBreakerBackend(inner, breaker), inner, clock


async def _fail(backend: CircuitBreakerBackend, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ToolUnavailableError):
            await backend.execute("t", {})


async def test_it_opens_after_consecutive_failures_and_then_fails_fast() -> None:
    backend, inner, clock = _guarded(ToolTimeoutError("slow"))
    await _fail(backend, 3)
    assert backend.breaker.state is State.OPEN
    clock.advance(12)
    with pytest.raises(ToolUnavailableError) as raised:
        await backend.execute("t", {})
    assert raised.value.code == CIRCUIT_OPEN_CODE
    assert raised.value.retry_after == pytest.approx(18)
    assert "search" in raised.value.message
    assert len(inner.calls) == 3, "an open circuit does not call the downstream"


async def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    backend, inner, _ = _guarded(ToolUnavailableError("down"))
    await _fail(backend, 2)
    inner.answers["t"] = {"ok": True}
    await backend.execute("t", {})
    inner.answers["t"] = ToolUnavailableError("down")
    await _fail(backend, 2)
    assert backend.breaker.state is State.CLOSED


@pytest.mark.parametrize(
    "answer", [ToolItemNotFoundError("no such chunk"), ToolExecutionError("rejected")]
)
async def test_a_downstream_that_answers_is_up_even_when_the_call_fails(answer: Exception) -> None:
    backend, _, _ = _guarded(answer, threshold=1)
    for _ in range(3):
        with pytest.raises(type(answer)):
            await backend.execute("t", {})
    assert backend.breaker.state is State.CLOSED


async def test_after_the_cooldown_one_trial_call_goes_through_and_closes_it() -> None:
    backend, inner, clock = _guarded(ToolUnavailableError("down"))
    await _fail(backend, 3)
    clock.advance(30)
    assert backend.breaker.state is State.HALF_OPEN
    inner.answers["t"] = {"ok": True}
    assert await backend.execute("t", {}) == {"ok": True}
    assert backend.breaker.state is State.CLOSED


async def test_a_failed_trial_opens_the_circuit_again_for_a_full_cooldown() -> None:
    backend, _, clock = _guarded(ToolUnavailableError("down"))
    await _fail(backend, 3)
    clock.advance(31)
    await _fail(backend, 1)
    assert backend.breaker.state is State.OPEN
    with pytest.raises(ToolUnavailableError) as raised:
        await backend.execute("t", {})
    assert raised.value.retry_after == pytest.approx(30)


async def test_while_the_trial_runs_other_calls_fail_fast() -> None:
    clock = FakeClock()
    inner = RecordingBackend(name="search", concurrent_calls=2)
    breaker = CircuitBreaker(clock, failure_threshold=1, cooldown_seconds=5)
    backend = CircuitBreakerBackend(inner, breaker)
    breaker.record_failure()
    clock.advance(5)
    trial = asyncio.create_task(backend.execute("t", {}))
    await asyncio.sleep(0)
    with pytest.raises(ToolUnavailableError) as raised:
        await backend.execute("t", {})
    assert raised.value.code == CIRCUIT_OPEN_CODE
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert breaker.state is State.HALF_OPEN, "a cancelled trial gives no verdict"
    inner.concurrent_calls = 0
    await backend.execute("t", {})
    assert breaker.state is State.CLOSED


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(FakeClock(), failure_threshold=0)
