"""Try a route's deployment groups: the one place a failed upstream call is retried or
falls over.

Chat (complete and stream) and embeddings call through ``Fallback.first_success``, before the
first byte reaches the client. The attempt planner (``gateway_core.resilience.planner``)
decides each attempt: a deployment of the primary group by its routing strategy, retries with
backoff or the upstream's Retry-After within the group's attempts and the retry budget, other
deployments past an open circuit or a 429 cooldown, then each fallback group. A failure that
is not retryable, or the last one, is raised. Every failed ``ProviderError`` is reported to
``on_provider_error`` (for metrics), the ones a later attempt rescued too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from gateway_core.clock import SystemClock
from gateway_core.domain.routing import Deployment, DeploymentGroup, Target
from gateway_core.errors import ProviderError
from gateway_core.resilience.planner import AttemptPlanner

T = TypeVar("T")


def _ignore(_error: ProviderError) -> None:
    return None


class Fallback:
    def __init__(
        self,
        on_provider_error: Callable[[ProviderError], None] | None = None,
        planner: AttemptPlanner | None = None,
    ) -> None:
        self._on_provider_error = on_provider_error or _ignore
        self._planner = planner or AttemptPlanner(SystemClock())

    def report(self, error: ProviderError) -> None:
        """A failure after the call was committed to a target (a stream's later chunks)."""
        self._on_provider_error(error)

    def first_success(
        self,
        routes: Sequence[DeploymentGroup] | Sequence[Target],
        attempt: Callable[[Target], Awaitable[T]],
    ) -> Coroutine[Any, Any, T]:
        """``attempt(target)`` per planned attempt until one succeeds (await it). ``routes``:
        the groups ``RoutingTable.groups`` gives, or plain targets (each a group of one
        deployment with the built-in settings: one attempt, tried in order). The planner's
        own coroutine, not one around it: a frame less per model call."""
        return self._planner.run(_as_groups(routes), attempt, self._on_provider_error)


def _as_groups(
    routes: Sequence[DeploymentGroup] | Sequence[Target],
) -> Sequence[DeploymentGroup]:
    if not routes or isinstance(routes[0], DeploymentGroup):
        return routes  # type: ignore[return-value]
    return tuple(
        DeploymentGroup(t.model, (Deployment(t, f"{t.provider}/*"),))
        for t in routes
        if isinstance(t, Target)
    )
