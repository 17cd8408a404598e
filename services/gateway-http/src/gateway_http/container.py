"""The composition root: every object the service uses is built here, and only here."""

from __future__ import annotations

import os

from dependency_injector import containers, providers

from gateway_adapters.pricing_file import load_price_table
from gateway_adapters.tools.schema_validator import JsonSchemaArgumentsValidator
from gateway_core.clock import SystemClock
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_core.use_cases.create_embeddings import CreateEmbeddings
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.serve_chat import CachePolicy, ServeChat
from gateway_core.use_cases.sessions import SessionService
from gateway_core.use_cases.tool_loop import ToolLoop
from gateway_core.use_cases.usage import MonthlyBudget, UsageTracker
from gateway_http import wiring
from gateway_http.caller import Callers, ChatApi
from gateway_http.observability.metrics import GatewayMetrics, model_names
from gateway_http.provider_config import (
    load_gateway_config,
    resolve_providers,
    routing_table,
    served_models,
)
from gateway_http.provider_factory import (
    build_chat_providers,
    build_embedding_providers,
    unconfigured_providers,
    usable_providers,
)
from gateway_http.settings import Settings
from gateway_http.stores import (
    open_redis,
    open_usage_store,
    rate_limit_store,
    response_cache,
    session_store,
)
from gateway_http.upstream_clients import open_upstream_clients


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    environ = providers.Object(os.environ)
    clock = providers.Singleton(SystemClock)

    # Resources: opened and closed by the app's lifespan.
    upstream_clients = providers.Resource(open_upstream_clients, settings)
    redis = providers.Resource(open_redis, settings)

    # Providers and routing.
    gateway_config = providers.Singleton(load_gateway_config, settings.provided.providers_config)
    resolved_providers = providers.Singleton(resolve_providers, gateway_config, environ)
    chat_providers = providers.Singleton(build_chat_providers, resolved_providers, upstream_clients)
    served_models = providers.Singleton(served_models, gateway_config, resolved_providers)
    metrics = providers.Singleton(
        GatewayMetrics, known_models=providers.Callable(model_names, served_models)
    )
    routing = providers.Singleton(routing_table, gateway_config)
    planner = providers.Singleton(wiring.attempt_planner, clock, metrics, routing)
    complete_chat = providers.Singleton(
        CompleteChat,
        routing,
        chat_providers,
        providers.Singleton(unconfigured_providers, resolved_providers),
        on_provider_error=metrics.provided.count_provider_error,
        planner=planner,
    )

    # Shared state: Redis when configured, else in memory.
    session_store = providers.Singleton(session_store, redis, clock)
    rate_limit_store = providers.Singleton(rate_limit_store, redis, clock, settings)
    response_cache = providers.Singleton(response_cache, redis, clock, settings)
    usage_store = providers.Resource(open_usage_store, redis, clock)

    # Use cases.
    sessions = providers.Singleton(
        SessionService, session_store, clock, providers.Callable(wiring.session_config, settings)
    )
    usage_tracker = providers.Singleton(
        UsageTracker,
        providers.Singleton(load_price_table, settings.provided.pricing_config),
        usage_store,
        clock,
    )
    budget = providers.Singleton(MonthlyBudget, usage_store, clock)
    limiter = providers.Singleton(
        wiring.rate_limiter, rate_limit_store, settings, metrics.provided.count_rate_limit_fallback
    )
    loaded_tools = providers.Singleton(wiring.load_tools, settings, upstream_clients, clock)
    execute_tool = providers.Singleton(
        ExecuteTool,
        loaded_tools.provided.registry,
        loaded_tools.provided.backends,
        providers.Singleton(JsonSchemaArgumentsValidator),
    )
    tool_loop = providers.Singleton(
        ToolLoop,
        complete_chat,
        execute_tool,
        max_rounds=settings.provided.tool_max_rounds,
        max_result_chars=settings.provided.tool_max_result_chars,
        clock=clock,
    )
    serve_chat = providers.Singleton(
        ServeChat,
        chat=complete_chat,
        tools=tool_loop,
        sessions=sessions,
        usage=usage_tracker,
        limiter=limiter,
        budget=budget,
        cache=response_cache,
        cache_policy=providers.Callable(
            CachePolicy,
            enabled=settings.provided.cache_enabled,
            ttl_seconds=settings.provided.cache_ttl_seconds,
            only_deterministic=settings.provided.cache_only_deterministic,
        ),
        on_store_error=wiring.log_store_error,
    )
    embeddings = providers.Singleton(
        CreateEmbeddings,
        routing,
        providers.Singleton(build_embedding_providers, resolved_providers, chat_providers),
        providers.Callable(usable_providers, resolved_providers),
        providers.Singleton(unconfigured_providers, resolved_providers),
        usage=usage_tracker,
        limiter=limiter,
        planner=planner,
    )
    authenticator = providers.Singleton(wiring.authenticator, settings)
    callers = providers.Singleton(Callers, authenticator)
    chat_api = providers.Singleton(ChatApi, serve_chat, callers)
    health_checks = providers.Singleton(
        wiring.health_checks, served_models, redis, loaded_tools, planner
    )
