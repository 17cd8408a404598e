"""Model routing: which provider serves a model name, under which of its own model ids.

Resolution order, first match wins: aliases (followed up to a small depth), exact routes,
prefixes (``anthropic/claude-x`` -> provider ``anthropic``, model ``claude-x``), then
glob patterns (``claude-*``) in the order configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from gateway_core.errors import ModelNotFoundError

_MAX_ALIAS_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    """The provider's own model id."""


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """An exact model name and where it goes; ``fallbacks`` are client model names tried in
    order when the primary fails retryably before anything reached the client."""

    target: Target
    fallbacks: tuple[str, ...] = ()


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
        name = model
        for _ in range(_MAX_ALIAS_DEPTH):
            if name not in self.aliases:
                break
            name = self.aliases[name]
        route = self.models.get(name)
        if route is not None:
            return route.target, route.fallbacks
        for prefix, provider in self.prefixes.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                return Target(provider, name[len(prefix) :]), ()
        for pattern in self.patterns:
            if fnmatchcase(name, pattern.pattern):
                return Target(pattern.provider, name), ()
        raise ModelNotFoundError(
            f"The model '{model}' does not exist or is not served by this gateway.",
            param="model",
        )
