"""The attempt planner over scripted deployments, a fake clock and a seeded random source."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from random import Random

import pytest

from gateway_core.domain.resilience import HealthSettings, RetrySettings
from gateway_core.domain.routing import Deployment, DeploymentGroup, Target
from gateway_core.errors import (
    ProviderError,
    UpstreamBadRequestError,
    UpstreamCircuitOpenError,
    UpstreamRateLimitError,
    UpstreamServerError,
)
from gateway_core.resilience.planner import AttemptPlanner, AttemptTally, current_tally
from gateway_core.testing.clock import FakeClock

RETRY = RetrySettings(
    max_attempts=3, backoff_base_seconds=0.1, backoff_max_seconds=0.4, retry_after_cap_seconds=1.0,
    budget_ratio=0.5, budget_min_retries=100,
)  # fmt: skip
HEALTH = HealthSettings(enabled=True, failure_threshold=2, open_seconds=10.0, min_requests=1000)
FAIL = UpstreamServerError("boom", status=500)


def deployment(
    name: str, weight: float = 1.0, retry: RetrySettings = RETRY, health: HealthSettings = HEALTH
) -> Deployment:
    return Deployment(Target(f"provider-{name}", f"model-{name}"), name, weight, retry, health)


def group(model: str, *deployments: Deployment, strategy: str = "weighted") -> DeploymentGroup:
    return DeploymentGroup(model, deployments, strategy)  # type: ignore[arg-type]


class Upstream:
    """Answers by deployment: the scripted outcomes first, then ``ok``; records each call."""

    def __init__(self, clock: FakeClock, **scripts: Iterable[Exception | str]) -> None:
        self.clock = clock
        self.scripts = {name: list(outcomes) for name, outcomes in scripts.items()}
        self.always_fail: set[str] = set()
        self.calls: list[tuple[str, float]] = []

    async def __call__(self, target: Target) -> str:
        name = target.model.removeprefix("model-")
        self.calls.append((name, self.clock.monotonic()))
        if name in self.always_fail:
            raise FAIL
        script = self.scripts.get(name) or []
        outcome = script.pop(0) if script else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return f"{outcome} from {name}"

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def planner(clock: FakeClock) -> AttemptPlanner:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    return AttemptPlanner(clock, Random(3), sleep=sleep)


def run(planner: AttemptPlanner, groups: list[DeploymentGroup], upstream: Upstream) -> str:
    return asyncio.run(planner.run(groups, upstream))


def test_a_429_then_200_waits_its_retry_after(planner: AttemptPlanner, clock: FakeClock) -> None:
    upstream = Upstream(clock, a=[UpstreamRateLimitError("slow down", status=429, retry_after=0.2)])
    assert run(planner, [group("m", deployment("a"))], upstream) == "ok from a"
    (_, first), (_, second) = upstream.calls
    assert second - first == pytest.approx(0.2)


def test_a_503_then_200_backs_off_with_jitter(planner: AttemptPlanner, clock: FakeClock) -> None:
    upstream = Upstream(clock, a=[FAIL])
    assert run(planner, [group("m", deployment("a"))], upstream) == "ok from a"
    (_, first), (_, second) = upstream.calls
    assert 0.0 <= second - first <= 0.1


def test_a_retry_after_past_the_cap_returns_the_429_at_once(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    upstream = Upstream(clock, a=[UpstreamRateLimitError("x", status=429, retry_after=30.0)])
    with pytest.raises(UpstreamRateLimitError) as caught:
        run(planner, [group("m", deployment("a"))], upstream)
    assert caught.value.retry_after == 30.0
    assert upstream.names() == ["a"] and clock.monotonic() == 0.0


def test_a_retry_after_past_the_cap_fails_over_without_waiting(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    upstream = Upstream(clock, a=[UpstreamRateLimitError("x", status=429, retry_after=30.0)])
    groups = [group("m", deployment("a")), group("fallback", deployment("b"))]
    assert run(planner, groups, upstream) == "ok from b"
    assert clock.monotonic() == 0.0


def test_a_400_is_never_retried(planner: AttemptPlanner, clock: FakeClock) -> None:
    upstream = Upstream(clock, a=[UpstreamBadRequestError("bad", status=400)])
    groups = [group("m", deployment("a")), group("fallback", deployment("b"))]
    with pytest.raises(UpstreamBadRequestError):
        run(planner, groups, upstream)
    assert upstream.names() == ["a"]


def test_attempts_stop_at_max_attempts_then_fallbacks_run(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    upstream = Upstream(clock, a=[FAIL, FAIL, FAIL, FAIL])
    no_breaker = HealthSettings(enabled=False)
    groups = [group("m", deployment("a", health=no_breaker)), group("fallback", deployment("b"))]
    assert run(planner, groups, upstream) == "ok from b"
    assert upstream.names() == ["a", "a", "a", "b"]


def test_the_budget_stops_retries_but_not_fallbacks(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    stingy = RetrySettings(max_attempts=3, budget_ratio=0.0, budget_min_retries=1)
    upstream = Upstream(clock, a=[FAIL, FAIL, FAIL])
    no_breaker = HealthSettings(enabled=False)
    groups = [
        group("m", deployment("a", retry=stingy, health=no_breaker)),
        group("fallback", deployment("b")),
    ]
    assert run(planner, groups, upstream) == "ok from b"
    assert upstream.names() == ["a", "a", "b"], "one retry: the budget's minimum"
    upstream.calls.clear()
    upstream.scripts["a"] = [FAIL]
    assert run(planner, groups, upstream) == "ok from b"
    assert upstream.names() == ["a", "b"], "budget spent: straight to the fallback"


def test_a_failing_deployment_fails_over_to_its_peer_at_once(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    upstream = Upstream(clock)
    upstream.always_fail.add("bad")
    groups = [group("m", deployment("bad"), deployment("good"))]
    for _ in range(20):
        assert run(planner, groups, upstream) == "ok from good"
    assert clock.monotonic() == 0.0, "failing over to a peer needs no wait"
    assert upstream.names().count("bad") == 2, "the circuit opened after two failures"
    assert upstream.names().count("good") == 20


def test_an_open_circuit_fails_fast_then_a_probe_closes_it(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    upstream = Upstream(clock, a=[FAIL, FAIL, FAIL])
    one = RetrySettings(max_attempts=1)
    groups = [group("m", deployment("a", retry=one))]
    for _ in range(2):
        with pytest.raises(UpstreamServerError):
            run(planner, groups, upstream)
    with pytest.raises(UpstreamCircuitOpenError) as caught:
        run(planner, groups, upstream)
    assert caught.value.retry_after == 10.0
    assert len(upstream.calls) == 2, "an open circuit calls nobody"
    assert planner.states()["a"]["circuit"] == "open"
    clock.advance(10.0)
    assert planner.states()["a"]["circuit"] == "half_open"
    with pytest.raises(UpstreamServerError):  # the probe meets the third scripted failure
        run(planner, groups, upstream)
    assert planner.states()["a"]["circuit"] == "open"
    clock.advance(10.0)
    assert run(planner, groups, upstream) == "ok from a"
    assert planner.states()["a"]["circuit"] == "closed"


def test_an_open_primary_goes_straight_to_its_fallback(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    upstream = Upstream(clock)
    upstream.always_fail.add("a")
    groups = [
        group("m", deployment("a", retry=RetrySettings())),
        group("fallback", deployment("b")),
    ]
    for _ in range(5):
        assert run(planner, groups, upstream) == "ok from b"
    assert upstream.names() == ["a", "b", "a", "b", "b", "b", "b"]


def test_when_every_deployment_rests_after_a_429_the_answer_is_a_429(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    upstream = Upstream(clock, a=[UpstreamRateLimitError("x", status=429, retry_after=30.0)])
    groups = [group("m", deployment("a"))]
    with pytest.raises(UpstreamRateLimitError):
        run(planner, groups, upstream)
    with pytest.raises(UpstreamRateLimitError) as caught:
        run(planner, groups, upstream)
    assert caught.value.retry_after == 30.0 and caught.value.status == 429
    assert len(upstream.calls) == 1


def test_weights_share_the_load(planner: AttemptPlanner, clock: FakeClock) -> None:
    upstream = Upstream(clock)
    groups = [group("m", deployment("heavy", weight=3.0), deployment("light", weight=1.0))]
    for _ in range(400):
        run(planner, groups, upstream)
    assert 250 < upstream.names().count("heavy") < 350


def test_the_tally_counts_attempts_and_retries(planner: AttemptPlanner, clock: FakeClock) -> None:
    upstream = Upstream(clock, a=[FAIL])

    async def counted() -> AttemptTally:
        tally = AttemptTally()
        current_tally.set(tally)
        await planner.run([group("m", deployment("a"))], upstream)
        return tally

    tally = asyncio.run(counted())
    assert (tally.attempts, tally.retries) == (2, 1)


def test_a_cancelled_attempt_leaves_nothing_in_flight(planner: AttemptPlanner) -> None:
    async def hang(target: Target) -> str:
        await asyncio.sleep(3600)
        return ""

    async def cancel() -> None:
        task = asyncio.ensure_future(planner.run([group("m", deployment("a"))], hang))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel())
    assert planner.states()["a"]["in_flight"] == 0


def test_errors_are_reported_for_every_failed_attempt(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    seen: list[ProviderError] = []
    upstream = Upstream(clock, a=[FAIL, FAIL])
    quiet = deployment("a", health=HealthSettings(enabled=False))
    asyncio.run(planner.run([group("m", quiet)], upstream, seen.append))
    assert seen == [FAIL, FAIL]


def test_least_in_flight_picks_the_idlest(planner: AttemptPlanner) -> None:
    busy, idle = deployment("busy", weight=5.0), deployment("idle")
    planner.health(busy).begin(0.0)
    seen: list[str] = []

    async def call(target: Target) -> str:
        seen.append(target.model)
        return "ok"

    asyncio.run(planner.run([group("m", busy, idle, strategy="least_in_flight")], call))
    assert seen == ["model-idle"]


def test_lowest_latency_measures_each_then_prefers_the_fastest(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    slow, fast = deployment("slow"), deployment("fast")
    latency = {"model-slow": 0.5, "model-fast": 0.1}
    seen: list[str] = []

    async def call(target: Target) -> str:
        seen.append(target.model)
        clock.advance(latency[target.model])
        return "ok"

    groups = [group("m", slow, fast, strategy="lowest_latency")]
    for _ in range(6):
        asyncio.run(planner.run(groups, call))
    assert set(seen[:2]) == {"model-slow", "model-fast"}, "each is measured once"
    assert seen[2:] == ["model-fast"] * 4


def test_without_health_a_lone_deployment_still_waits_before_its_retry(
    planner: AttemptPlanner, clock: FakeClock
) -> None:
    lone = deployment("a", health=HealthSettings(enabled=False))
    upstream = Upstream(clock, a=[UpstreamRateLimitError("x", status=429, retry_after=0.3)])
    assert run(planner, [group("m", lone)], upstream) == "ok from a"
    (_, first), (_, second) = upstream.calls
    assert second - first == pytest.approx(0.3)
