"""The resilience parts of ``config/providers.json``: ``retry`` and ``health`` sections (at the
top level, per provider, and ``retry`` per model too) and a model's ``deployments``.

Every field is optional: a section overrides only what it names, the model's over its
provider's over the top level's over the built-in defaults (``gateway_core.domain.resilience``:
one attempt, no circuit breaker, the behaviour of a file written before these sections).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from pydantic import ConfigDict, Field

from gateway_adapters.config.validation import ConfigModel
from gateway_core.domain.resilience import HealthSettings, RetrySettings

Settings = TypeVar("Settings", RetrySettings, HealthSettings)


class _Section(ConfigModel):
    model_config = ConfigDict(strict=False)


class RetryConfig(_Section):
    max_attempts: int | None = Field(default=None, ge=1, le=10)
    backoff_base_seconds: float | None = Field(default=None, ge=0)
    backoff_max_seconds: float | None = Field(default=None, ge=0)
    retry_after_cap_seconds: float | None = Field(default=None, ge=0)
    budget_ratio: float | None = Field(default=None, ge=0, le=1)
    budget_min_retries: int | None = Field(default=None, ge=0)
    budget_window_seconds: float | None = Field(default=None, gt=0)


class HealthConfig(_Section):
    enabled: bool | None = None
    failure_threshold: int | None = Field(default=None, ge=1)
    failure_rate: float | None = Field(default=None, gt=0, le=1)
    min_requests: int | None = Field(default=None, ge=1)
    window_seconds: float | None = Field(default=None, gt=0)
    open_seconds: float | None = Field(default=None, gt=0)
    rate_limit_cooldown_seconds: float | None = Field(default=None, ge=0)
    rate_limit_cooldown_cap_seconds: float | None = Field(default=None, ge=0)


class DeploymentConfig(_Section):
    provider: str
    """A provider entry: a second key or endpoint for the same vendor is its own entry."""
    model: str | None = None
    """The provider's own model id; defaults to the route's name."""
    weight: float = Field(default=1.0, gt=0)
    name: str | None = None
    """Names its health and metrics; defaults to ``<route>@<provider>``."""


def merged(base: Settings, *sections: RetryConfig | HealthConfig | None) -> Settings:
    """``base`` with each section's given fields applied in order (later ones win)."""
    for section in sections:
        if section is not None:
            given = section.model_dump(exclude_none=True)
            if given:
                base = replace(base, **given)
    return base
