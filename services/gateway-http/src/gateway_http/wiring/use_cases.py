"""The use cases' sub-container: the core's business rules over the adapters, each built once."""

from __future__ import annotations

from dependency_injector import containers, providers

from gateway_adapters.tracing import step_tracer
from gateway_core.ports.clock import Clock
from gateway_core.use_cases.admission import AdmissionPolicy
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_core.use_cases.create_embeddings import CreateEmbeddings
from gateway_core.use_cases.curfew import Curfew
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.fallback import Fallback
from gateway_core.use_cases.serve_chat import CachePolicy, ServeChat
from gateway_core.use_cases.sessions import SessionService
from gateway_core.use_cases.tool_loop import ToolLoop
from gateway_core.use_cases.usage import MonthlyBudget, UsageTracker
from gateway_http.admin import wiring as admin_wiring
from gateway_http.caller import Callers, ChatApi
from gateway_http.messages_api.door import MessagesDoor
from gateway_http.responses_api.door import ResponsesDoor
from gateway_http.settings import Settings
from gateway_http.wiring import factories


class UseCases(containers.DeclarativeContainer):
    adapters = providers.DependenciesContainer()
    settings = providers.Dependency(instance_of=Settings)
    clock: providers.Dependency[Clock] = providers.Dependency()

    background = providers.Dependency(instance_of=BackgroundTasks)
    """The root's (``wiring/__init__.py``): work no response waits for."""
    curfew = providers.Singleton(Curfew)
    """Ends the model calls still running when the shutdown's grace is over (app.py)."""

    # Admission: the key's model permission, rate limits, the monthly budget.
    authenticator = providers.Singleton(factories.authenticator, settings, adapters.api_keys)
    limiter = providers.Singleton(
        factories.rate_limiter,
        adapters.rate_limit_store,
        adapters.fallback_rate_limit_store,
        settings,
        adapters.metrics.provided.count_rate_limit_fallback,
    )
    budget = providers.Singleton(MonthlyBudget, adapters.usage_store, clock, background=background)
    admission = providers.Singleton(
        AdmissionPolicy,
        limiter=limiter,
        budget=budget,
        authenticator=authenticator,
        background=background,
        tracer=providers.Singleton(step_tracer, adapters.tracer),
        caps=providers.Singleton(factories.request_caps, settings),
        catalogue=adapters.model_catalogue,
    )
    usage_tracker = providers.Singleton(UsageTracker, adapters.prices, adapters.usage_store, clock)

    # The model call: one fallback helper for chat and embeddings.
    planner = providers.Singleton(
        factories.attempt_planner, clock, adapters.metrics, adapters.routing
    )
    """Retries, deployment health and routing strategies (per process)."""
    fallback = providers.Singleton(
        Fallback, adapters.metrics.provided.count_provider_error, planner
    )
    complete_chat = providers.Singleton(
        CompleteChat,
        adapters.routing,
        adapters.traced_chat_providers,
        adapters.unconfigured_providers,
        fallback=fallback,
    )
    execute_tool = providers.Singleton(
        ExecuteTool,
        adapters.loaded_tools.provided.registry,
        adapters.tool_backends,
        adapters.arguments_validator,
    )
    tool_loop = providers.Singleton(
        ToolLoop,
        complete_chat,
        execute_tool,
        max_rounds=settings.provided.tool_max_rounds,
        max_result_chars=settings.provided.tool_max_result_chars,
        clock=clock,
    )
    sessions = providers.Singleton(
        SessionService,
        adapters.session_store,
        clock,
        providers.Callable(factories.session_config, settings),
    )
    serve_chat = providers.Singleton(
        ServeChat,
        chat=complete_chat,
        tools=tool_loop,
        sessions=sessions,
        usage=usage_tracker,
        admission=admission,
        cache=adapters.traced_response_cache,
        cache_policy=providers.Callable(
            CachePolicy,
            enabled=settings.provided.cache_enabled,
            ttl_seconds=settings.provided.cache_ttl_seconds,
            only_deterministic=settings.provided.cache_only_deterministic,
        ),
        on_store_error=factories.log_store_error,
        background=background,
        curfew=curfew,
    )
    embeddings = providers.Singleton(
        CreateEmbeddings,
        adapters.routing,
        adapters.embedding_providers,
        adapters.usable_providers,
        adapters.unconfigured_providers,
        usage=usage_tracker,
        admission=admission,
        fallback=fallback,
    )

    # Client keys kept in step with the key store, and their administration.
    key_sync = providers.Resource(
        admin_wiring.open_key_sync, authenticator, adapters.key_store, settings
    )
    key_admin = providers.Singleton(
        admin_wiring.key_admin, adapters.key_store, authenticator, key_sync, clock
    )

    # What the routes get.
    callers = providers.Singleton(Callers, authenticator, key_sync)
    chat_api = providers.Singleton(ChatApi, serve_chat, callers)
    # The Responses front door (routes/responses.py).
    responses_door = providers.Singleton(
        ResponsesDoor,
        chat_api,
        adapters.response_store,
        settings.provided.responses_ttl_seconds,
        adapters.native_providers.provided.responses,
        adapters.native_providers.provided.formats,
    )
    # The Anthropic Messages front door (routes/messages.py).
    messages_door = providers.Singleton(
        MessagesDoor,
        chat_api,
        adapters.native_providers.provided.messages,
        adapters.native_providers.provided.token_counters,
        adapters.native_providers.provided.formats,
    )
    health_checks = providers.Singleton(
        factories.health_checks,
        adapters.served_models_live,  # RELOAD
        adapters.redis,
        adapters.loaded_tools_live,  # RELOAD
        planner,
    )
