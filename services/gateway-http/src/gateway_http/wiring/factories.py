"""Small factories the containers call: settings in, configured objects out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from gateway_adapters.auth.key_file import load_keys
from gateway_adapters.model_catalogue_file import load_model_catalogue
from gateway_adapters.tools.registry import LoadedTools
from gateway_adapters.tools.registry import load_tools as load_tools_file
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.api_keys import ApiKey
from gateway_core.domain.models import ModelInfo
from gateway_core.domain.request_caps import ModelCatalogue, RequestCaps
from gateway_core.domain.routing import RoutingTable
from gateway_core.domain.sessions import HistoryLimits
from gateway_core.errors import GatewayError
from gateway_core.live import Live
from gateway_core.ports.clock import Clock
from gateway_core.ports.rate_limits import RateLimitStore
from gateway_core.resilience.planner import AttemptPlanner
from gateway_core.use_cases.authenticate import Authenticator
from gateway_core.use_cases.rate_limit import RateLimiter, RateLimits
from gateway_core.use_cases.sessions import SessionConfig
from gateway_http.health import HealthCheck
from gateway_http.observability.metrics import GatewayMetrics
from gateway_http.provider_config import GatewayConfig
from gateway_http.settings import Settings
from gateway_http.wiring.provider_factory import UpstreamClients
from gateway_http.wiring.stores import redis_check

log = logging.getLogger("gateway_http")


def upstream_deadlines(settings: Settings) -> UpstreamDeadlines:
    """The deadlines a provider does not set itself, and the byte cap on every answer."""
    return UpstreamDeadlines(
        connect=settings.upstream_connect_timeout_seconds,
        first_byte=settings.upstream_first_byte_timeout_seconds,
        idle=settings.upstream_idle_timeout_seconds,
        total=settings.upstream_total_timeout_seconds,
        max_body_bytes=settings.max_response_bytes,
    )


def request_caps(settings: Settings) -> RequestCaps:
    return RequestCaps(
        max_messages=settings.max_messages,
        max_tools=settings.max_tools,
        max_model_name_chars=settings.max_model_name_chars,
        output_margin=settings.output_cap_margin,
    )


def model_catalogue(settings: Settings, config: GatewayConfig) -> ModelCatalogue:
    """The catalogue file, with each alias of the providers file taking its target's limits."""
    return load_model_catalogue(settings.models_config).with_aliases(config.aliases)


def session_config(settings: Settings) -> SessionConfig:
    return SessionConfig(
        default_ttl_seconds=settings.session_ttl_seconds,
        limits=HistoryLimits(settings.session_max_messages, settings.session_max_tokens),
        lock_timeout_seconds=settings.session_lock_timeout_seconds,
    )


def rate_limiter(
    store: RateLimitStore,
    fallback: RateLimitStore,
    settings: Settings,
    on_fallback: Callable[[], None],
) -> RateLimiter:
    """``fallback`` decides while ``store`` is down (per ``rate_limit_store_down``)."""
    defaults = RateLimits(
        settings.rate_limit_requests_per_minute, settings.rate_limit_tokens_per_minute
    )
    policy = settings.rate_limit_store_down
    share = settings.rate_limit_fail_open_share
    return RateLimiter(
        store, defaults=defaults, policy=policy, fallback=fallback, on_fallback=on_fallback,
        fail_open_share=share,
    )


def load_tools(settings: Settings, clients: UpstreamClients, clock: Clock) -> LoadedTools:
    urls = {
        "semantic_search_url": settings.semantic_search_url,
        "ai_agents_url": settings.ai_agents_url,
    }
    return load_tools_file(settings.tools_config, settings=urls, client=clients.client, clock=clock)


def api_keys(settings: Settings) -> tuple[ApiKey, ...]:
    """The client keys (none are read when authentication is off)."""
    if not settings.auth_enabled:
        return ()
    env_value = settings.api_keys.get_secret_value() if settings.api_keys else None
    return tuple(load_keys(settings.api_keys_file, env_value))


def authenticator(settings: Settings, keys: Sequence[ApiKey]) -> Authenticator | None:
    """``None`` when authentication is off (the embedded default, warned about at start)."""
    return Authenticator(keys) if settings.auth_enabled else None


def log_store_error(store: str, error: GatewayError) -> None:
    log.warning("the %s store is unavailable; the answer was served anyway (%s)", store, error.code)


def attempt_planner(clock: Clock, metrics: GatewayMetrics, routing: RoutingTable) -> AttemptPlanner:
    """One per process: the deployments' health and the retry budgets are this worker's."""
    planner = AttemptPlanner(clock, observer=metrics)
    planner.watch(d for route in routing.models.values() for d in route.deployments)
    metrics.watch_deployments(planner)
    return planner


def health_checks(
    models: Live[tuple[ModelInfo, ...]],
    redis: Redis | None,
    tools: Live[LoadedTools],
    planner: AttemptPlanner | None = None,
) -> tuple[HealthCheck, ...]:
    async def providers_check() -> dict[str, Any]:
        served = models.current  # a reload may have changed them since start-up
        if not served:
            raise LookupError("no model can be served")
        return {"models": len(served)}

    async def tools_check() -> dict[str, Any]:
        breakers = tools.current.breakers  # a tools file reload brings new ones
        states = {name: breaker.state.value for name, breaker in breakers.items()}
        if states and all(state == "open" for state in states.values()):
            raise ConnectionError("every tool backend's circuit is open")
        return {"circuits": states}

    async def deployments_check() -> dict:
        states = planner.states() if planner is not None else {}
        if states and all(state["circuit"] == "open" for state in states.values()):
            raise ConnectionError("every model deployment's circuit is open")
        return {"deployments": states}

    return (
        HealthCheck("providers", providers_check, critical=True),
        # Open circuits: answered at once with 503, fallbacks still served: degraded.
        HealthCheck("deployments", deployments_check, critical=False),
        # Chat keeps working without Redis (sessions answer 503): degraded, not down.
        HealthCheck("redis", lambda: redis_check(redis), critical=False),
        HealthCheck("tools", tools_check, critical=False),
    )
