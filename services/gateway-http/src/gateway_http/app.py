"""``create_app(container)``: the Litestar application, built from a container on demand."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from dependency_injector import providers
from litestar import Litestar
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler

from gateway_http.admin.routes import ADMIN_ROUTES
from gateway_http.caller import resolve_caller
from gateway_http.collector import PacedCollector
from gateway_http.errors import EXCEPTION_HANDLERS, PROVIDER_SECRETS
from gateway_http.middleware import add_request_id
from gateway_http.observability import install_observability
from gateway_http.observability.tracing import install_tracing
from gateway_http.reload.install import baseline as reload_baseline
from gateway_http.reload.install import start_config_reload
from gateway_http.routes.chat import chat_completions
from gateway_http.routes.embeddings import create_embeddings
from gateway_http.routes.health import health, ready
from gateway_http.routes.messages import MESSAGES_ROUTES
from gateway_http.routes.metrics import prometheus_metrics
from gateway_http.routes.models import list_models, retrieve_model
from gateway_http.routes.openapi import docs_page, openapi_document
from gateway_http.routes.options import with_options
from gateway_http.routes.raw_post import served_methods as raw_served_methods
from gateway_http.routes.responses import RESPONSES_ROUTES
from gateway_http.routes.sessions import create_session, delete_session, read_session
from gateway_http.routes.tools import execute_tool_route, list_tools
from gateway_http.routes.usage import read_usage
from gateway_http.settings import Settings
from gateway_http.shutdown import curfew_after_signal
from gateway_http.wiring import Container

log = logging.getLogger("gateway_http")

_DRAIN_SECONDS = 10.0
"""How long shutdown waits for background work (an abandoned stream's billing) to finish."""

ROUTES = [
    chat_completions,
    *RESPONSES_ROUTES,
    *MESSAGES_ROUTES,
    create_embeddings,
    list_models,
    retrieve_model,
    health,
    ready,
    create_session,
    read_session,
    delete_session,
    list_tools,
    execute_tool_route,
    read_usage,
    prometheus_metrics,
    openapi_document,
    docs_page,
    *ADMIN_ROUTES,
]


def served_methods(handler: BaseRouteHandler) -> frozenset[str]:
    """The methods a route of ``ROUTES`` serves (``OPTIONS`` aside): an HTTP handler's own,
    a raw front door's (``routes.raw_post``)."""
    if isinstance(handler, HTTPRouteHandler):
        return frozenset(handler.http_methods)
    raw = raw_served_methods(handler)
    if raw is None:
        raise TypeError(f"{handler} serves no methods this app knows of")
    return raw


async def _resolve(provider: providers.Provider[Any]) -> Any:
    value = provider()
    return await value if inspect.isawaitable(value) else value


def _provide(provider: providers.Provider[Any]) -> Provide:
    """A Litestar dependency that resolves ``provider`` once (it may be async) and caches it."""

    async def dependency() -> Any:
        return await _resolve(provider)

    return Provide(dependency, use_cache=True)


def _current_models(container: Container) -> Any:
    """RELOAD: the served models as of this request (a providers file reload replaces them)."""

    async def current() -> Any:
        return (await _resolve(container.adapters.served_models_live)).current

    return current


def _current_routing(container: Container) -> Any:
    """RELOAD: the routing table as of this request (a providers file reload replaces it)."""

    async def current() -> Any:
        return (await _resolve(container.use_cases.complete_chat)).routing

    return current


async def _build_eagerly(container: Container) -> None:
    """Build what the routes use now, so a bad configuration stops start-up, not a request."""
    use_cases, adapters = container.use_cases, container.adapters
    for provider in (use_cases.chat_api, use_cases.execute_tool, use_cases.callers,
                     use_cases.responses_door, use_cases.messages_door,
                     use_cases.embeddings, adapters.served_models,
                     use_cases.health_checks):  # fmt: skip
        await _resolve(provider)
    tools = await _resolve(adapters.loaded_tools)
    (await _resolve(adapters.metrics)).watch_circuit_breakers(tools.breakers)
    if not container.settings().auth_enabled:
        log.warning(
            "authentication is off (LLM_GATEWAY_AUTH_ENABLED=false): every caller is anonymous; "
            "use this for local work only"
        )


def _pace_collector(
    settings: Settings, observe: Callable[[str, float], None]
) -> PacedCollector | None:
    if not settings.gc_young_interval_ms:  # CPython's own pacing, by allocation counts
        gc.set_threshold(10_000, 10, 10)
        return None
    collector = PacedCollector(
        settings.gc_young_interval_ms / 1000, settings.gc_full_interval_seconds, observe=observe
    )
    collector.start(asyncio.get_running_loop())
    return collector


def create_app(container: Container | None = None) -> Litestar:
    container = container or Container()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        seen = reload_baseline(container.settings())  # RELOAD: before start-up reads the files
        initialised = container.init_resources()
        if initialised is not None:
            await initialised
        await _build_eagerly(container)
        resolved = container.adapters.resolved_providers().values()
        app.state[PROVIDER_SECRETS] = tuple(p.api_key for p in resolved if p.api_key)
        # RELOAD: configuration files reloaded on change and on SIGHUP (gateway_http/reload/).
        stop_reloading = await start_config_reload(container, app.state, seen)
        # SIGTERM: streams still running at the end of the grace period end with an error event.
        curfew = await _resolve(container.use_cases.curfew)
        stop_curfew = curfew_after_signal(curfew, container.settings().shutdown_grace_seconds)
        # What start-up built lives as long as the process: out of the cycle collector's way,
        # so that a full collection scans what requests left, not the ~100,000 objects of the
        # modules and the app (each full collection took about 40 ms under load before).
        gc.freeze()
        # And collections paced by time (gateway_http/collector.py): open streams no longer
        # wait tens of milliseconds for a young generation that grew unnoticed.
        metrics = await _resolve(container.adapters.metrics)
        collector = _pace_collector(container.settings(), metrics.observe_gc_pause)
        try:
            yield
        finally:
            if collector is not None:
                collector.stop()
            stop_reloading()  # RELOAD
            stop_curfew()
            # Billing and reconciliations still running go to the stores before they close.
            if not await container.use_cases.background().drain(_DRAIN_SECONDS):
                log.warning("background work was cut off at shutdown after %ss", _DRAIN_SECONDS)
            closed = container.shutdown_resources()
            if closed is not None:
                await closed
            # uvicorn re-raises a captured SIGTERM once it has stopped, with the default
            # handler back: the process dies at once, skipping atexit, so the lines still
            # queued (the drained streams' request lines) are written now or never.
            for handler in logging.getLogger().handlers:
                handler.flush()

    settings = container.settings()
    use_cases, adapters = container.use_cases, container.adapters
    app = Litestar(
        route_handlers=with_options(ROUTES),
        dependencies={
            "chat_api": _provide(use_cases.chat_api),
            "responses_door": _provide(use_cases.responses_door),
            "messages_door": _provide(use_cases.messages_door),
            "sessions": _provide(use_cases.sessions),
            "execute_tool": _provide(use_cases.execute_tool),
            "embeddings": _provide(use_cases.embeddings),
            "usage_store": _provide(adapters.usage_store),
            "callers": _provide(use_cases.callers),
            "served_models": Provide(_current_models(container), use_cache=False),  # RELOAD
            "routing": Provide(_current_routing(container), use_cache=False),  # RELOAD
            "health_checks": _provide(use_cases.health_checks),
            "gateway_metrics": _provide(adapters.metrics),
            "caller": Provide(resolve_caller),
            "key_admin": _provide(use_cases.key_admin),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_send=[add_request_id],
        lifespan=[lifespan],
        request_max_body_size=settings.max_request_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
    install_observability(app, adapters.metrics(), log_prompts=settings.log_prompts)
    install_tracing(app, adapters.tracer_provider())
    return app
