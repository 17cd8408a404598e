"""Plans one request's upstream attempts across its deployment groups, and runs them.

``AttemptPlanner.run(groups, call)`` is the one fallback loop of the provider path: it calls
``call(target)`` for each attempt until one succeeds, waiting before a retry as the plan says,
and must only be used before the first byte reaches the client. The order:

1. the primary group's deployment chosen by its strategy, among the available ones (an open
   circuit or a 429 cooldown makes a deployment unavailable);
2. after a retryable failure, while the group has attempts left (``max_attempts``) and the
   retry budget allows: another available deployment of the group at once, else the same one
   again after its backoff or Retry-After (never past the cap, never for 400/401/403/404/422);
3. then the next fallback group, and so on; fallbacks are not retries (no budget spent).

When no deployment of any group is available, the request fails at once with 429 (every one
rests after a 429) or 503 ``upstream_circuit_open``, with the seconds until one may be tried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from random import Random
from typing import Protocol, TypeVar

from gateway_core.domain.routing import Deployment, DeploymentGroup, Target
from gateway_core.errors import (
    GatewayError,
    ProviderError,
    ProviderNotConfiguredError,
    UpstreamCircuitOpenError,
    UpstreamRateLimitError,
)
from gateway_core.ports.clock import Clock
from gateway_core.resilience.balance import choose
from gateway_core.resilience.health import DeploymentHealth
from gateway_core.resilience.retry import RetryBudget, is_transient, retry_delay

T = TypeVar("T")


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs a call per field
class Attempt:
    deployment: Deployment
    health: DeploymentHealth
    """The deployment's (looked up once per attempt, not once per step)."""
    delay: float = 0.0
    """Seconds to wait before making it."""
    retry: bool = False
    """An extra attempt within a group (fallbacks and first attempts are not retries)."""


class AttemptTally:
    """How many upstream attempts (and retries among them) one request made."""

    __slots__ = ("attempts", "retries")

    def __init__(self) -> None:
        self.attempts = 0
        self.retries = 0


current_tally: ContextVar[AttemptTally | None] = ContextVar("current_tally", default=None)
"""Set by the caller around a request (the service's request log does): the planner counts
into it. A context variable, so that no use case has to thread the count through."""


class AttemptObserver(Protocol):
    def attempted(self, deployment: Deployment, retry: bool) -> None: ...


class AttemptPlanner:
    """Holds every deployment's health and every provider's retry budget (per process)."""

    def __init__(
        self,
        clock: Clock,
        random: Random | None = None,
        observer: AttemptObserver | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.random = random or Random()
        self.observer = observer
        self._sleep = sleep
        self._health: dict[str, DeploymentHealth] = {}
        self._budgets: dict[str, RetryBudget] = {}
        self.deployments: dict[str, Deployment] = {}

    def watch(self, deployments: Iterable[Deployment]) -> None:
        """Track these (configured) deployments from the start, so readiness lists them."""
        for deployment in deployments:
            self.health(deployment)

    def health(self, deployment: Deployment) -> DeploymentHealth:
        health = self._health.get(deployment.name)
        if health is None:
            health = self._health[deployment.name] = DeploymentHealth(deployment.health)
            self.deployments[deployment.name] = deployment
        return health

    def budget(self, deployment: Deployment) -> RetryBudget:
        provider = deployment.target.provider
        budget = self._budgets.get(provider)
        if budget is None:
            budget = self._budgets[provider] = RetryBudget(deployment.retry)
        return budget

    def states(self) -> dict[str, dict[str, object]]:
        """Each tracked deployment's circuit state, cooldown and calls in flight."""
        now = self.clock.monotonic()
        return {
            name: {
                "provider": self.deployments[name].target.provider,
                "circuit": health.state(now).value,
                "cooling_down": health.cooling_down(now),
                "in_flight": health.in_flight,
            }
            for name, health in self._health.items()
        }

    async def run(
        self,
        groups: Sequence[DeploymentGroup],
        call: Callable[[Target], Awaitable[T]],
        on_error: Callable[[ProviderError], None] | None = None,
    ) -> T:
        """``call(target)`` per attempt until one succeeds; raises the last failure."""
        plan = AttemptPlan(self, groups)
        now = self.clock.monotonic()
        attempt = plan.first(now)
        while True:
            if attempt.delay > 0.0:
                await self._sleep(attempt.delay)
                now = self.clock.monotonic()
            plan.begin(attempt, now)
            try:
                result = await call(attempt.deployment.target)
            except (ProviderError, ProviderNotConfiguredError) as error:
                if on_error is not None and isinstance(error, ProviderError):
                    on_error(error)
                now = self.clock.monotonic()
                following = plan.failed(attempt, error, now)
                if following is None:
                    raise
                attempt = following
                continue
            except BaseException:
                attempt.health.abandoned()
                raise
            finished = self.clock.monotonic()
            attempt.health.succeeded(finished, finished - now)
            return result


class AttemptPlan:
    """One request's walk through its groups; ``first``, then ``failed`` after each failure."""

    __slots__ = ("_group", "_groups", "_in_group", "_planner", "_tried")

    def __init__(self, planner: AttemptPlanner, groups: Sequence[DeploymentGroup]) -> None:
        self._planner = planner
        self._groups = groups
        self._group = 0
        self._in_group = 0
        self._tried: list[str] | None = None

    def first(self, now: float) -> Attempt:
        attempt = self._only_deployment(now)
        if attempt is None:
            attempt = self._start_group(0, now)
        if attempt is None:
            raise unavailable(self._planner, self._groups, now)
        if attempt.deployment.retry.max_attempts > 1:  # the budget counts what may retry
            self._planner.budget(attempt.deployment).note_request(now)
        return attempt

    def begin(self, attempt: Attempt, now: float) -> None:
        """Note the attempt as made at ``now``."""
        planner = self._planner
        attempt.health.begin(now)
        self._in_group += 1
        tally = current_tally.get()
        if tally is not None:
            tally.attempts += 1
            tally.retries += attempt.retry
        if planner.observer is not None:
            planner.observer.attempted(attempt.deployment, attempt.retry)

    def failed(self, attempt: Attempt, error: GatewayError, now: float) -> Attempt | None:
        """The next attempt after ``attempt`` failed with ``error``, or ``None``: give up."""
        deployment = attempt.deployment
        attempt.health.failed(now, error)
        if self._tried is None:  # only on failure: the happy path allocates nothing
            self._tried = []
        self._tried.append(deployment.name)
        if not error.retryable:
            return None
        if self._in_group < deployment.retry.max_attempts:
            retry = self._retry_in_group(deployment, error, now)
            if retry is not None:
                return retry
        return self._start_group(self._group + 1, now)

    def _retry_in_group(
        self, failed: Deployment, error: GatewayError, now: float
    ) -> Attempt | None:
        planner = self._planner
        other = self._choose(self._groups[self._group], now)
        if other is not None:
            if not planner.budget(other).try_spend(now):
                return None
            return Attempt(other, planner.health(other), 0.0, True)
        if not is_transient(error) or not planner.health(failed).circuit_allows(now):
            return None
        delay = retry_delay(error, self._in_group, failed.retry, planner.random)
        if delay is None or not planner.budget(failed).try_spend(now):
            return None
        return Attempt(failed, planner.health(failed), delay, True)

    def _only_deployment(self, now: float) -> Attempt | None:
        """The first attempt of the usual route, one group of one deployment, available now
        (its health looked up once); ``None``: plan it the general way."""
        groups = self._groups
        if len(groups) != 1 or len(deployments := groups[0].deployments) != 1:
            return None
        only = deployments[0]
        health = self._planner.health(only)
        return Attempt(only, health) if health.available(now) else None

    def _start_group(self, index: int, now: float) -> Attempt | None:
        for position in range(index, len(self._groups)):
            self._group, self._in_group, self._tried = position, 0, None
            chosen = self._choose(self._groups[position], now)
            if chosen is not None:
                return Attempt(chosen, self._planner.health(chosen))
        return None

    def _choose(self, group: DeploymentGroup, now: float) -> Deployment | None:
        health = self._planner.health
        tried = self._tried or ()
        deployments = group.deployments
        if len(deployments) == 1:  # the common case: no list, no strategy
            only = deployments[0]
            return only if only.name not in tried and health(only).available(now) else None
        candidates = [d for d in deployments if d.name not in tried and health(d).available(now)]
        if not candidates:
            return None
        return choose(group.strategy, candidates, health, self._planner.random)


def unavailable(
    planner: AttemptPlanner, groups: Sequence[DeploymentGroup], now: float
) -> ProviderError:
    """The error for a request none of whose deployments may be called now."""
    deployments = [d for group in groups for d in group.deployments]
    healths = [planner.health(d) for d in deployments]
    wait = max(min(h.available_in(now) for h in healths), 1.0)
    provider = deployments[0].target.provider
    model = groups[0].model
    if all(h.cooling_down(now) for h in healths):
        return UpstreamRateLimitError(
            f"Every deployment of the model '{model}' is rate limited; retry after {wait:.0f} s.",
            provider=provider, status=429, retry_after=wait,
        )  # fmt: skip
    return UpstreamCircuitOpenError(
        f"Every deployment of the model '{model}' is failing (circuit open); "
        f"retry after {wait:.0f} s.",
        provider=provider, retry_after=wait,
    )  # fmt: skip
