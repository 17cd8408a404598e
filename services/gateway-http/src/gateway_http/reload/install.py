"""Start the configuration reload in a worker: what each file's reload swaps, the SIGHUP
handler and the polling task. Called from the app's lifespan once start-up has built
everything; returns the function that stops it.

Signals and workers: with one worker, uvicorn runs the app in the process you signal, and
SIGHUP reaches the handler installed here. With several workers, uvicorn's supervisor treats
SIGHUP itself (it restarts the workers, one by one) and does not forward it; polling is what
reloads every worker without a restart, each worker checking the files on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar.datastructures import State

from gateway_adapters.auth.key_file import load_keys
from gateway_adapters.model_catalogue_file import load_model_catalogue
from gateway_adapters.pricing_file import load_price_table
from gateway_adapters.tools.registry import LoadedTools
from gateway_adapters.tracing import traced_chat_providers, traced_tool_backends
from gateway_core.domain.models import ModelInfo
from gateway_core.live import Live
from gateway_core.ports.clock import Clock
from gateway_core.resilience.planner import AttemptPlanner
from gateway_core.use_cases.admission import AdmissionPolicy
from gateway_core.use_cases.authenticate import Authenticator
from gateway_core.use_cases.complete_chat import ChatRoutes, CompleteChat
from gateway_core.use_cases.create_embeddings import CreateEmbeddings
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.usage import UsageTracker
from gateway_http.errors import PROVIDER_SECRETS
from gateway_http.observability.metrics import GatewayMetrics
from gateway_http.provider_config import (
    load_gateway_config,
    resolve_providers,
    routing_table,
    served_models,
)
from gateway_http.reload.watcher import ConfigReloader, FileSignature, WatchedFile, signature
from gateway_http.settings import Settings
from gateway_http.wiring import factories
from gateway_http.wiring.provider_factory import (
    UpstreamClients,
    build_chat_providers,
    build_embedding_providers,
    unconfigured_providers,
    usable_providers,
)

if TYPE_CHECKING:
    from gateway_http.wiring import Container

log = logging.getLogger("gateway_http.reload")


def providers_reload(
    settings: Settings,
    environ: Mapping[str, str],
    clients: UpstreamClients,
    tracer: Any,
    chat: CompleteChat,
    embeddings: CreateEmbeddings,
    natives: Any,  # native_providers.NativeProviders, imported late (it imports the wiring)
    planner: AttemptPlanner,
    models: Live[tuple[ModelInfo, ...]],
    app_state: State,
    admission: AdmissionPolicy,
) -> WatchedFile:
    """Validate and build everything first; then the swaps. New providers share the pooled
    upstream clients; a removed provider's running calls finish on the old objects. Keys of
    providers old and new stay scrubbed from error bodies (a running call may still fail)."""

    def apply() -> None:
        config = load_gateway_config(settings.providers_config)
        resolved = resolve_providers(config, environ, factories.upstream_deadlines(settings))
        built = build_chat_providers(resolved, clients)
        providers = traced_chat_providers(built, tracer)
        embedding_providers = build_embedding_providers(resolved, built)
        routing = routing_table(config)
        routes = ChatRoutes(routing, providers, unconfigured_providers(resolved))
        served = served_models(config, resolved)
        secrets = {p.api_key for p in resolved.values() if p.api_key}
        app_state[PROVIDER_SECRETS] = tuple({*app_state.get(PROVIDER_SECRETS, ()), *secrets})
        planner.watch(d for route in routing.models.values() for d in route.deployments)
        chat.reroute(routes)
        from gateway_http.native_providers import build_native_providers, refresh_in_place

        refresh_in_place(natives, build_native_providers(resolved, clients))
        embeddings.reroute(
            routing, embedding_providers, usable_providers(resolved),
            unconfigured_providers(resolved),
        )  # fmt: skip
        models.swap(served)
        admission.catalogue = admission.catalogue.with_aliases(config.aliases)

    return WatchedFile("providers", settings.providers_config, apply)


def models_reload(settings: Settings, admission: AdmissionPolicy) -> WatchedFile:
    """The model catalogue: the next request's caps use it (the aliases stay the providers
    file's)."""

    def apply() -> None:
        catalogue = load_model_catalogue(settings.models_config)
        admission.catalogue = catalogue.with_aliases(admission.catalogue.aliases)

    return WatchedFile("models", settings.models_config, apply)


def pricing_reload(settings: Settings, usage: UsageTracker) -> WatchedFile:
    def apply() -> None:
        usage.reprice(load_price_table(settings.pricing_config))

    return WatchedFile("pricing", settings.pricing_config, apply)


def tools_reload(
    settings: Settings,
    clients: UpstreamClients,
    clock: Clock,
    tracer: Any,
    execute: ExecuteTool,
    tools: Live[LoadedTools],
    metrics: GatewayMetrics,
) -> WatchedFile:
    """New backends get new circuit breakers (closed); a running tool call finishes on the
    backend it started on. The tool loop and ``GET /v1/tools`` see the new registry."""

    def apply() -> None:
        loaded = factories.load_tools(settings, clients, clock)
        execute.retool(loaded.registry, traced_tool_backends(loaded.backends, tracer))
        tools.swap(loaded)
        metrics.watch_circuit_breakers(loaded.breakers)

    return WatchedFile("tools", settings.tools_config, apply)


def keys_reload(settings: Settings, authenticator: Authenticator) -> WatchedFile:
    """The keys file (``LLM_GATEWAY_API_KEYS_FILE``): a key added works, a key removed (a
    leaked one, say) is refused, on every worker within the polling interval."""

    def apply() -> None:
        env_value = settings.api_keys.get_secret_value() if settings.api_keys else None
        authenticator.use_static_keys(load_keys(settings.api_keys_file, env_value))

    assert settings.api_keys_file is not None
    return WatchedFile("keys", settings.api_keys_file, apply)


def _watched_paths(settings: Settings) -> dict[str, Path]:
    paths = {
        "providers": settings.providers_config,
        "pricing": settings.pricing_config,
        "tools": settings.tools_config,
        "models": settings.models_config,
    }
    if settings.auth_enabled and settings.api_keys_file is not None:
        paths["keys"] = settings.api_keys_file
    return paths


def baseline(settings: Settings) -> dict[str, FileSignature | None]:
    """The files' signatures, taken before start-up reads them."""
    return {name: signature(path) for name, path in _watched_paths(settings).items()}


async def start_config_reload(
    container: Container, app_state: State, seen: Mapping[str, FileSignature | None]
) -> Callable[[], None]:
    """Watch the providers, pricing and tools files of this worker; returns the stop.
    ``seen``: ``baseline`` from before start-up, so a change made meanwhile is reloaded."""
    adapters, use_cases = container.adapters, container.use_cases
    settings = container.settings()
    clients = await _resolve(adapters.upstream_clients)
    tracer = adapters.tracer()
    admission = await _resolve(use_cases.admission)
    files: tuple[WatchedFile, ...] = (
        providers_reload(
            settings, adapters.environ(), clients, tracer, await _resolve(use_cases.complete_chat),
            await _resolve(use_cases.embeddings), await _resolve(adapters.native_providers),
            use_cases.planner(), await _resolve(adapters.served_models_live), app_state,
            admission,
        ),
        pricing_reload(settings, await _resolve(use_cases.usage_tracker)),
        models_reload(settings, admission),
        tools_reload(
            settings, clients, container.clock(), tracer, await _resolve(use_cases.execute_tool),
            await _resolve(adapters.loaded_tools_live), adapters.metrics(),
        ),
    )  # fmt: skip
    authenticator = await _resolve(use_cases.authenticator)
    if authenticator is not None and "keys" in _watched_paths(settings):
        files = (*files, keys_reload(settings, authenticator))
    metrics = adapters.metrics()
    reloader = ConfigReloader(files, on_result=metrics.count_config_reload, seen=seen)
    return start_reloading(reloader, settings.config_reload_seconds)


async def _resolve(provider: Any) -> Any:
    value = provider()
    return await value if inspect.isawaitable(value) else value


def start_reloading(reloader: ConfigReloader, interval_seconds: float) -> Callable[[], None]:
    """Install the SIGHUP handler and the polling task; returns what undoes both."""
    loop = asyncio.get_running_loop()
    handles_sighup = True
    try:
        loop.add_signal_handler(signal.SIGHUP, reloader.reload_all)
    except (NotImplementedError, RuntimeError, ValueError):
        # Not the main thread (tests driving the app in-process) or no SIGHUP (Windows).
        handles_sighup = False
    task = loop.create_task(reloader.poll(interval_seconds)) if interval_seconds > 0 else None

    def stop() -> None:
        if handles_sighup:
            with contextlib.suppress(RuntimeError):
                loop.remove_signal_handler(signal.SIGHUP)
        if task is not None:
            task.cancel()

    return stop
