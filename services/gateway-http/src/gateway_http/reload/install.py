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
import logging
import signal
from collections.abc import Callable, Mapping
from typing import Any

from gateway_adapters.pricing_file import load_price_table
from gateway_adapters.tools.registry import LoadedTools
from gateway_adapters.tracing import traced_chat_providers, traced_tool_backends
from gateway_core.domain.models import ModelInfo
from gateway_core.live import Live
from gateway_core.ports.clock import Clock
from gateway_core.use_cases.complete_chat import ChatRoutes, CompleteChat
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.usage import UsageTracker
from gateway_http import wiring
from gateway_http.observability.metrics import GatewayMetrics
from gateway_http.provider_config import (
    load_gateway_config,
    resolve_providers,
    routing_table,
    served_models,
)
from gateway_http.provider_factory import (
    UpstreamClients,
    build_chat_providers,
    unconfigured_providers,
)
from gateway_http.reload.watcher import ConfigReloader, WatchedFile
from gateway_http.settings import Settings

log = logging.getLogger("gateway_http.reload")


def providers_reload(
    settings: Settings,
    environ: Mapping[str, str],
    clients: UpstreamClients,
    tracer: Any,
    chat: CompleteChat,
    models: Live[tuple[ModelInfo, ...]],
) -> WatchedFile:
    """Validate and build everything first; then two assignments. New providers share the
    pooled upstream clients; a removed provider's running calls finish on the old objects."""

    def apply() -> None:
        config = load_gateway_config(settings.providers_config)
        resolved = resolve_providers(config, environ)
        providers = traced_chat_providers(build_chat_providers(resolved, clients), tracer)
        routes = ChatRoutes(routing_table(config), providers, unconfigured_providers(resolved))
        served = served_models(config, resolved)
        chat.reroute(routes)
        models.swap(served)

    return WatchedFile("providers", settings.providers_config, apply)


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
        loaded = wiring.load_tools(settings, clients, clock)
        execute.retool(loaded.registry, traced_tool_backends(loaded.backends, tracer))
        tools.swap(loaded)
        metrics.watch_circuit_breakers(loaded.breakers)

    return WatchedFile("tools", settings.tools_config, apply)


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
