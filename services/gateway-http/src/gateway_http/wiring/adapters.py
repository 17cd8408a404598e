"""The adapters' sub-container: configuration files, upstream clients, providers, stores, tools.

Each thing is built once (a ``Singleton`` or a ``Resource``); the resources (HTTP client
pools, Redis) are opened and closed by the app's lifespan.
"""

from __future__ import annotations

import os

from dependency_injector import containers, providers

from gateway_adapters.pricing_file import load_price_table
from gateway_adapters.tools.schema_validator import JsonSchemaArgumentsValidator
from gateway_adapters.tracing import traced_cache, traced_chat_providers, traced_tool_backends
from gateway_core.live import Live
from gateway_core.memory import InMemoryRateLimitStore
from gateway_core.ports.clock import Clock
from gateway_core.use_cases.background import BackgroundTasks
from gateway_http.admin import wiring as admin_wiring
from gateway_http.native_providers import build_native_providers
from gateway_http.observability.metrics import GatewayMetrics, model_names
from gateway_http.observability.tracing import tracer_of, tracer_provider_for
from gateway_http.provider_config import (
    load_gateway_config,
    resolve_providers,
    routing_table,
    served_models,
)
from gateway_http.redis_maintenance import open_bucket_sweeper
from gateway_http.settings import Settings
from gateway_http.wiring import factories
from gateway_http.wiring.provider_factory import (
    build_chat_providers,
    build_embedding_providers,
    unconfigured_providers,
    usable_providers,
)
from gateway_http.wiring.stores import (
    open_redis,
    open_usage_store,
    rate_limit_store,
    response_cache,
    response_store,
    session_store,
)
from gateway_http.wiring.upstream_clients import open_upstream_clients


class Adapters(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock: providers.Dependency[Clock] = providers.Dependency()
    background = providers.Dependency(instance_of=BackgroundTasks)
    """The root's: where the stores start work no response waits for (lease renewals)."""
    environ = providers.Object(os.environ)

    # Resources: opened and closed by the app's lifespan.
    upstream_clients = providers.Resource(open_upstream_clients, settings)
    redis = providers.Resource(open_redis, settings)
    bucket_sweeper = providers.Resource(open_bucket_sweeper, redis)
    """Removes refilled rate-limit buckets (they have no TTL: no eviction policy takes them)."""

    # Tracing (off by default: the tracer is None and nothing is wrapped).
    tracer_provider = providers.Singleton(tracer_provider_for, settings)
    tracer = providers.Singleton(tracer_of, tracer_provider)

    # Providers and routing.
    gateway_config = providers.Singleton(load_gateway_config, settings.provided.providers_config)
    upstream_deadlines = providers.Singleton(factories.upstream_deadlines, settings)
    """Connect, first byte, idle gap, total, and the answer byte cap: a provider's own win."""
    resolved_providers = providers.Singleton(
        resolve_providers, gateway_config, environ, upstream_deadlines
    )
    chat_providers = providers.Singleton(build_chat_providers, resolved_providers, upstream_clients)
    embedding_providers = providers.Singleton(
        build_embedding_providers, resolved_providers, chat_providers
    )
    traced_chat_providers = providers.Singleton(traced_chat_providers, chat_providers, tracer)
    """What the model calls go through: ``chat_providers``, each in a span when tracing is on."""
    native_providers = providers.Singleton(
        build_native_providers, resolved_providers, upstream_clients
    )
    """Providers that speak the Responses or Messages API themselves (the doors' native path)."""
    usable_providers = providers.Singleton(usable_providers, resolved_providers)
    unconfigured_providers = providers.Singleton(unconfigured_providers, resolved_providers)
    served_models = providers.Singleton(served_models, gateway_config, resolved_providers)
    served_models_live = providers.Singleton(Live, served_models)
    """RELOAD: what /v1/models and /ready read; a providers file reload replaces it."""
    routing = providers.Singleton(routing_table, gateway_config)
    metrics = providers.Singleton(
        GatewayMetrics, known_models=providers.Callable(model_names, served_models)
    )

    # Shared state: Redis when configured, else in memory.
    session_store = providers.Singleton(session_store, redis, clock)
    rate_limit_store = providers.Singleton(rate_limit_store, redis, clock, settings, background)
    fallback_rate_limit_store = providers.Singleton(InMemoryRateLimitStore, clock)
    """Decides admissions while the rate-limit store is down (``rate_limit_store_down``)."""
    response_cache = providers.Singleton(response_cache, redis, clock, settings)
    traced_response_cache = providers.Singleton(traced_cache, response_cache, tracer)
    response_store = providers.Singleton(response_store, redis, clock)
    """Stored Responses API answers, for ``previous_response_id``."""
    usage_store = providers.Resource(open_usage_store, redis, clock)

    key_store = providers.Singleton(admin_wiring.key_store, redis)
    """Client keys managed through the admin API and the CLI (Redis, else memory)."""

    # Files and tools.
    prices = providers.Singleton(load_price_table, settings.provided.pricing_config)
    model_catalogue = providers.Singleton(factories.model_catalogue, settings, gateway_config)
    """Context window and max output per model (``config/models.json``); reloadable."""
    api_keys = providers.Singleton(factories.api_keys, settings)
    loaded_tools = providers.Singleton(factories.load_tools, settings, upstream_clients, clock)
    loaded_tools_live = providers.Singleton(Live, loaded_tools)
    """RELOAD: what /ready reads; a tools file reload replaces it."""
    tool_backends = providers.Singleton(
        traced_tool_backends, loaded_tools.provided.backends, tracer
    )
    arguments_validator = providers.Singleton(JsonSchemaArgumentsValidator)
