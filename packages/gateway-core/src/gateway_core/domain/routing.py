"""Model routing: which provider serves a model name, under which of its own model ids.

Resolution order, first match wins: aliases (followed up to a small depth), exact routes,
prefixes (``anthropic/claude-x`` -> provider ``anthropic``, model ``claude-x``), then
glob patterns (``claude-*``) in the order configured.

A route may name several ``deployments`` of one model (other keys, endpoints or providers),
chosen per request by its routing strategy; ``groups`` gives them, primary group first, then
each fallback's group. Names routed by prefix or pattern form a group of one deployment named
``<provider>/*``, so their health is tracked per provider (a bounded set of names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from gateway_core.domain.resilience import HealthSettings, RetrySettings, RoutingStrategy
from gateway_core.errors import ModelNotFoundError

_MAX_ALIAS_DEPTH = 8
_MAX_CACHED_GROUPS = 4096


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    """The provider's own model id."""
    drop_params: bool = False
    """The configuration lets the provider leave out request fields it cannot serve
    (reported to the client) instead of refusing them: the route's own say, else its
    provider's."""


_NO_RETRY = RetrySettings()
_NO_HEALTH = HealthSettings()


@dataclass(frozen=True, slots=True)
class Deployment:
    """One place a model can be served: a provider, its model id, a weight among its peers.
    ``name`` keys its health and labels its metrics (unique within the configuration)."""

    target: Target
    name: str
    weight: float = 1.0
    retry: RetrySettings = _NO_RETRY
    health: HealthSettings = _NO_HEALTH


@dataclass(frozen=True, slots=True)
class DeploymentGroup:
    """The deployments of one model name, tried as one step of the fallback chain."""

    model: str
    deployments: tuple[Deployment, ...]
    strategy: RoutingStrategy = "weighted"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """An exact model name and where it goes; ``fallbacks`` are client model names tried in
    order when the primary fails retryably before anything reached the client.
    ``deployments``: when given, ``target`` is the first one's (kept for ``resolve``)."""

    target: Target
    fallbacks: tuple[str, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    strategy: RoutingStrategy = "weighted"


@dataclass(frozen=True, slots=True)
class PatternRoute:
    pattern: str
    provider: str


@dataclass(frozen=True, slots=True)
class RoutingTable:
    models: Mapping[str, ModelRoute] = field(default_factory=dict)
    prefixes: Mapping[str, str] = field(default_factory=dict)
    """``"anthropic/"`` -> provider name; the rest of the name is the provider's model id."""
    patterns: tuple[PatternRoute, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    provider_retry: Mapping[str, tuple[RetrySettings, HealthSettings]] = field(default_factory=dict)
    """Settings for names routed by prefix or pattern, by provider."""
    drop_params_providers: frozenset[str] = frozenset()
    """Providers configured with ``drop_params``: names routed to them by prefix or pattern
    get targets that drop unsupported fields."""
    _groups: dict[str, tuple[DeploymentGroup, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Exact routes' groups, built once: the hot path allocates nothing for them."""

    def groups(self, model: str) -> tuple[DeploymentGroup, ...]:
        """The deployment groups to try for ``model``, primary first (``ModelNotFoundError``)."""
        cached = self._groups.get(model)
        if cached is not None:
            return cached
        primary, fallbacks, exact = self._group_of(model)
        groups = [primary]
        for name in fallbacks:
            group = self._group_of(name)[0]
            if all(group.deployments != seen.deployments for seen in groups):
                groups.append(group)
        result = tuple(groups)
        if exact and len(self._groups) < _MAX_CACHED_GROUPS:
            self._groups[model] = result
        return result

    def _group_of(self, model: str) -> tuple[DeploymentGroup, tuple[str, ...], bool]:
        name = self._unalias(model)
        route = self.models.get(name)
        if route is not None:
            deployments = route.deployments or (self._dynamic(route.target, name),)
            return DeploymentGroup(name, deployments, route.strategy), route.fallbacks, True
        target = self._resolve_one(model)[0]
        return DeploymentGroup(name, (self._dynamic(target, f"{target.provider}/*"),)), (), False

    def _dynamic(self, target: Target, name: str) -> Deployment:
        retry, health = self.provider_retry.get(target.provider, (_NO_RETRY, _NO_HEALTH))
        return Deployment(target, name, 1.0, retry, health)

    def _dynamic_target(self, provider: str, model: str) -> Target:
        return Target(provider, model, provider in self.drop_params_providers)

    def _unalias(self, model: str) -> str:
        name = model
        for _ in range(_MAX_ALIAS_DEPTH):
            if name not in self.aliases:
                break
            name = self.aliases[name]
        return name

    def resolve(self, model: str) -> tuple[Target, ...]:
        """The targets to try for ``model``, primary first. Raises ``ModelNotFoundError``."""
        primary, fallbacks = self._resolve_one(model)
        targets = [primary]
        for name in fallbacks:
            fallback, _ = self._resolve_one(name)
            if fallback not in targets:
                targets.append(fallback)
        return tuple(targets)

    def _resolve_one(self, model: str) -> tuple[Target, tuple[str, ...]]:
        name = self._unalias(model)
        route = self.models.get(name)
        if route is not None:
            return route.target, route.fallbacks
        for prefix, provider in self.prefixes.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                return self._dynamic_target(provider, name[len(prefix) :]), ()
        for pattern in self.patterns:
            if fnmatchcase(name, pattern.pattern):
                return self._dynamic_target(pattern.provider, name), ()
        raise ModelNotFoundError(
            f"The model '{model}' does not exist or is not served by this gateway.",
            param="model",
        )
