"""``create_app(container)``: the Litestar application, built from a container on demand."""

from __future__ import annotations

import gc
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dependency_injector import providers
from litestar import Litestar
from litestar.di import Provide

from gateway_http.caller import resolve_caller
from gateway_http.container import Container
from gateway_http.errors import EXCEPTION_HANDLERS
from gateway_http.middleware import add_request_id
from gateway_http.observability import install_observability
from gateway_http.routes.chat import chat_completions
from gateway_http.routes.embeddings import create_embeddings
from gateway_http.routes.health import health, ready
from gateway_http.routes.metrics import prometheus_metrics
from gateway_http.routes.models import list_models, retrieve_model
from gateway_http.routes.responses import create_response
from gateway_http.routes.sessions import create_session, delete_session, read_session
from gateway_http.routes.tools import execute_tool_route, list_tools
from gateway_http.routes.usage import read_usage

log = logging.getLogger("gateway_http")

ROUTES = [
    chat_completions,
    create_response,
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
]


async def _resolve(provider: providers.Provider[Any]) -> Any:
    value = provider()
    return await value if inspect.isawaitable(value) else value


def _provide(provider: providers.Provider[Any]) -> Provide:
    """A Litestar dependency that resolves ``provider`` once (it may be async) and caches it."""

    async def dependency() -> Any:
        return await _resolve(provider)

    return Provide(dependency, use_cache=True)


async def _build_eagerly(container: Container) -> None:
    """Build what the routes use now, so a bad configuration stops start-up, not a request."""
    for provider in (container.chat_api, container.execute_tool, container.callers,
                     container.embeddings,
                     container.served_models, container.health_checks):  # fmt: skip
        await _resolve(provider)
    tools = await _resolve(container.loaded_tools)
    (await _resolve(container.metrics)).watch_circuit_breakers(tools.breakers)
    if not container.settings().auth_enabled:
        log.warning(
            "authentication is off (LLM_GATEWAY_AUTH_ENABLED=false): every caller is anonymous; "
            "use this for local work only"
        )


def create_app(container: Container | None = None) -> Litestar:
    container = container or Container()

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        initialised = container.init_resources()
        if initialised is not None:
            await initialised
        await _build_eagerly(container)
        # What start-up built lives as long as the process: out of the cycle collector's way,
        # so that a full collection scans what requests left, not the ~100,000 objects of the
        # modules and the app (each full collection took about 40 ms under load before).
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
        try:
            yield
        finally:
            closed = container.shutdown_resources()
            if closed is not None:
                await closed

    settings = container.settings()
    app = Litestar(
        route_handlers=ROUTES,
        dependencies={
            "chat_api": _provide(container.chat_api),
            "sessions": _provide(container.sessions),
            "execute_tool": _provide(container.execute_tool),
            "embeddings": _provide(container.embeddings),
            "usage_store": _provide(container.usage_store),
            "callers": _provide(container.callers),
            "served_models": _provide(container.served_models),
            "routing": _provide(container.routing),
            "health_checks": _provide(container.health_checks),
            "gateway_metrics": _provide(container.metrics),
            "caller": Provide(resolve_caller),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_send=[add_request_id],
        lifespan=[lifespan],
        request_max_body_size=settings.max_request_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
    install_observability(app, container.metrics(), log_prompts=settings.log_prompts)
    return app
