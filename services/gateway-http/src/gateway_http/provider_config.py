"""``config/providers.json``: providers, model routes, prefixes, patterns and aliases.

API keys never live in the file: each provider names the environment variables that may
hold its key (``LLM_GATEWAY_<NAME>_API_KEY`` is always consulted first).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from gateway_adapters.config.validation import ConfigFileError, ConfigModel, validate
from gateway_adapters.outbound_proxy import DIRECT, Proxy
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.models import ModelInfo
from gateway_core.domain.resilience import HealthSettings, RetrySettings, RoutingStrategy
from gateway_core.domain.routing import Deployment, ModelRoute, PatternRoute, RoutingTable, Target
from gateway_http.resilience_config import DeploymentConfig, HealthConfig, RetryConfig, merged

ProviderType = Literal[
    "echo", "openai", "anthropic", "ollama", "azure", "bedrock", "gemini", "vertex_ai"
]


class _ProvidersModel(ConfigModel):
    # Unknown fields refused, but types coerced ("60" seconds is 60), as this file always was.
    model_config = ConfigDict(strict=False)


class AzureDeploymentConfig(_ProvidersModel):
    deployment: str = Field(min_length=1)
    endpoint: str | None = None
    """Another resource's endpoint (``https://<resource>.openai.azure.com``); the same
    credentials must be valid there."""
    api_version: str | None = None


class ProviderConfig(_ProvidersModel):
    type: ProviderType
    description: str = ""
    base_url: str | None = None
    base_url_env: str | None = None
    """An environment variable that overrides ``base_url`` when set."""
    api_key_env: tuple[str, ...] = ()
    requires_api_key: bool = False
    connect_timeout_seconds: float | None = Field(default=None, gt=0)
    """Deadlines of a call to this provider; unset: ``LLM_GATEWAY_UPSTREAM_*_SECONDS``
    (see ``upstream_deadlines``): connect, a stream's first byte, the idle gap between a
    stream's chunks, the whole exchange."""
    first_byte_timeout_seconds: float | None = Field(default=None, gt=0)
    idle_timeout_seconds: float | None = Field(default=None, gt=0)
    total_timeout_seconds: float | None = Field(default=None, gt=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    """The older single timeout: read as ``total_timeout_seconds`` when that is unset."""
    proxy: str | None = None
    """``http://[user:password@]host[:port]``: this provider's requests go through that proxy
    (``NO_PROXY`` does not apply); ``"direct"``: never through one; unset: the environment's
    ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``."""

    @field_validator("proxy")
    @classmethod
    def _valid_proxy(cls, value: str | None) -> str | None:
        if value is None or value == DIRECT:
            return value
        Proxy.parse(value)  # its message never quotes the URL (it may hold a password)
        return value
    headers: dict[str, str] = Field(default_factory=dict)
    default_max_tokens: int | None = Field(default=None, ge=1)
    max_tokens_by_model: dict[str, int] = Field(default_factory=dict)
    retry: RetryConfig | None = None
    health: HealthConfig | None = None
    responses_api: bool | None = None
    """``openai`` type: forward ``/v1/responses`` natively to ``{base_url}/responses``. Unset:
    only for OpenAI's own API (``api.openai.com``); most OpenAI-compatible servers have no
    Responses API, so their requests are translated through the chat turn."""
    settings: dict[str, str] = Field(default_factory=dict)
    """Vendor settings by name (Azure ``api_version``, Vertex ``project`` and ``location``)."""
    settings_env: dict[str, str] = Field(default_factory=dict)
    """Setting name -> the environment variable that overrides it when set."""
    credentials_env: tuple[str, ...] = ()
    """Variables any one of which makes the provider usable without an API key: a cloud
    credential chain (Entra ID client secret, a service-account key file, ...)."""
    deployments: dict[str, str | AzureDeploymentConfig] = Field(default_factory=dict)
    """Azure: the gateway's model id -> the deployment that serves it (default: the id): its
    name, or ``{"deployment", "endpoint"?, "api_version"?}`` when it lives in another resource
    or needs another api-version than the provider's."""
    drop_params: bool = Field(default=False, strict=True)  # "true" (a string) is a typo
    """Leave out the request fields this provider cannot serve (and name them in the
    ``x-gateway-dropped-params`` header) instead of refusing the request with 400, for every
    request it serves; a route's own ``drop_params`` overrides it."""


class ModelConfig(_ProvidersModel):
    provider: str | None = None
    model: str | None = None
    """The provider's own model id; defaults to the route's name."""
    deployments: tuple[DeploymentConfig, ...] = ()
    """Instead of ``provider`` and ``model``: several places serving this model."""
    routing_strategy: RoutingStrategy = "weighted"
    fallbacks: tuple[str, ...] = ()
    description: str = ""
    retry: RetryConfig | None = None
    drop_params: bool | None = Field(default=None, strict=True)
    """This route's say on unsupported fields (see ``ProviderConfig.drop_params``); unset:
    each deployment's provider decides."""

    @model_validator(mode="after")
    def _one_target(self) -> ModelConfig:
        if self.provider is None and not self.deployments:
            raise ValueError("'provider' is required")
        if self.provider is not None and self.deployments:
            raise ValueError("give either 'provider' or 'deployments', not both")
        if self.deployments and self.model is not None:
            raise ValueError("'model' goes in each deployment when 'deployments' is given")
        return self

    def placements(self, name: str) -> tuple[DeploymentConfig, ...]:
        """Where this route goes: its deployments, or its one provider as a deployment."""
        if self.deployments:
            return self.deployments
        assert self.provider is not None  # the validator saw to it
        return (DeploymentConfig(provider=self.provider, model=self.model, name=name),)


class PatternConfig(_ProvidersModel):
    pattern: str
    provider: str


class GatewayConfig(_ProvidersModel):
    providers: dict[str, ProviderConfig]
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    prefixes: dict[str, str] = Field(default_factory=dict)
    patterns: tuple[PatternConfig, ...] = ()
    aliases: dict[str, str] = Field(default_factory=dict)
    retry: RetryConfig | None = None
    health: HealthConfig | None = None


class ConfigError(ConfigFileError):
    """The configuration cannot be used; the message says which file, entry and field."""


@dataclass(frozen=True, slots=True)
class ResolvedProvider:
    """A provider with its key and base URL taken from the environment."""

    name: str
    config: ProviderConfig
    api_key: str | None = field(repr=False)
    base_url: str | None
    settings: Mapping[str, str] = field(default_factory=dict, repr=False)
    """``config.settings`` with the environment's overrides; may hold secrets."""
    has_credentials: bool = False
    """A variable of ``config.credentials_env`` is set."""
    deadlines: UpstreamDeadlines = field(default_factory=UpstreamDeadlines)
    """The provider's own deadlines over the global defaults (``upstream_deadlines``)."""

    @property
    def key_settings(self) -> tuple[str, ...]:
        """What would make the provider usable: its key variables, then its credentials'."""
        return (*key_variables(self.name, self.config), *self.config.credentials_env)

    @property
    def usable(self) -> bool:
        return self.api_key is not None or self.has_credentials or not self.config.requires_api_key


def key_variables(name: str, config: ProviderConfig) -> tuple[str, ...]:
    own = f"LLM_GATEWAY_{name.upper().replace('-', '_')}_API_KEY"
    return (own, *(v for v in config.api_key_env if v != own))


def load_gateway_config(path: Path) -> GatewayConfig:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (set LLM_GATEWAY_PROVIDERS_CONFIG)") from None
    except ValueError as error:  # the decoder names the line and column, never the text
        raise ConfigError(f"{path}: not valid JSON: {error}") from None
    config = validate(GatewayConfig, raw, source=str(path), error=ConfigError)
    _check_references(config, path)
    return config


def _check_references(config: GatewayConfig, path: Path) -> None:
    known = config.providers.keys()
    used = [p.provider for name, m in config.models.items() for p in m.placements(name)]
    used += list(config.prefixes.values()) + [p.provider for p in config.patterns]
    unknown = sorted(set(used) - set(known))
    if unknown:
        raise ConfigError(f"{path}: routes name unknown providers: {', '.join(unknown)}")
    names = [d.name for route in routing_table(config).models.values() for d in route.deployments]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(
            f"{path}: deployment names repeat: {', '.join(repeated)} (give each a 'name')"
        )


def upstream_deadlines(config: ProviderConfig, defaults: UpstreamDeadlines) -> UpstreamDeadlines:
    """Each deadline the provider sets, else the default; the old ``timeout_seconds`` is the
    total when ``total_timeout_seconds`` is unset (as it bounded a whole answer before)."""
    total = config.total_timeout_seconds or config.timeout_seconds or defaults.total
    return replace(
        defaults,
        connect=config.connect_timeout_seconds or defaults.connect,
        first_byte=config.first_byte_timeout_seconds or defaults.first_byte,
        idle=config.idle_timeout_seconds or defaults.idle,
        total=total,
    )


def resolve_providers(
    config: GatewayConfig,
    environ: Mapping[str, str],
    defaults: UpstreamDeadlines | None = None,
) -> dict[str, ResolvedProvider]:
    """``defaults``: the deadlines a provider does not set (``Settings.upstream_deadlines``)."""
    defaults = defaults or UpstreamDeadlines()
    resolved = {}
    for name, provider in config.providers.items():
        api_key = next((environ[v] for v in key_variables(name, provider) if environ.get(v)), None)
        base_url = environ.get(provider.base_url_env or "") or provider.base_url
        settings = dict(provider.settings)
        settings.update(
            {key: environ[var] for key, var in provider.settings_env.items() if environ.get(var)}
        )
        has_credentials = any(environ.get(var) for var in provider.credentials_env)
        resolved[name] = ResolvedProvider(
            name, provider, api_key, base_url, settings, has_credentials,
            upstream_deadlines(provider, defaults),
        )  # fmt: skip
    return resolved


def routing_table(config: GatewayConfig) -> RoutingTable:
    by_provider = {
        name: (
            merged(RetrySettings(), config.retry, provider.retry),
            merged(HealthSettings(), config.health, provider.health),
        )
        for name, provider in config.providers.items()
    }
    models = {}
    for name, route in config.models.items():
        deployments = tuple(
            _deployment(name, route, placement, by_provider, config.providers)
            for placement in route.placements(name)
        )
        target = deployments[0].target
        models[name] = ModelRoute(target, route.fallbacks, deployments, route.routing_strategy)
    patterns = tuple(PatternRoute(p.pattern, p.provider) for p in config.patterns)
    dropping = frozenset(name for name, p in config.providers.items() if p.drop_params)
    return RoutingTable(
        models, dict(config.prefixes), patterns, dict(config.aliases), by_provider, dropping
    )


def _deployment(
    route_name: str,
    route: ModelConfig,
    placement: DeploymentConfig,
    by_provider: Mapping[str, tuple[RetrySettings, HealthSettings]],
    providers: Mapping[str, ProviderConfig],
) -> Deployment:
    retry, health = by_provider[placement.provider]
    drop = route.drop_params
    if drop is None:
        drop = providers[placement.provider].drop_params
    return Deployment(
        Target(placement.provider, placement.model or route_name, drop),
        placement.name or f"{route_name}@{placement.provider}",
        placement.weight,
        merged(retry, route.retry),
        health,
    )


def served_models(
    config: GatewayConfig, providers: Mapping[str, ResolvedProvider]
) -> tuple[ModelInfo, ...]:
    """The exact model names (and aliases to them) whose provider can serve now."""
    infos = []
    for name, route in config.models.items():
        placement = next((p for p in route.placements(name) if providers[p.provider].usable), None)
        if placement is not None:
            provider = providers[placement.provider]
            description = route.description or provider.config.description
            infos.append(ModelInfo(name, placement.provider, placement.provider, description))
    usable = {info.id: info for info in infos}
    for alias, target in config.aliases.items():
        if target in usable:
            info = usable[target]
            infos.append(ModelInfo(alias, info.provider, info.owned_by, f"alias of {target}"))
    return tuple(infos)
