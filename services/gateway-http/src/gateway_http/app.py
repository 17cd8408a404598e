"""``create_app(container)``: the Litestar application, built from a container on demand."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dependency_injector import providers
from litestar import Litestar
from litestar.di import Provide

from gateway_http.container import Container
from gateway_http.errors import EXCEPTION_HANDLERS
from gateway_http.middleware import add_request_id
from gateway_http.routes.chat import chat_completions
from gateway_http.routes.health import health, ready
from gateway_http.routes.models import list_models


def _provide(provider: providers.Provider[Any]) -> Provide:
    """A Litestar dependency that resolves ``provider`` once (it may be async) and caches it."""

    async def dependency() -> Any:
        value = provider()
        return await value if inspect.isawaitable(value) else value

    return Provide(dependency, use_cache=True)


def create_app(container: Container | None = None) -> Litestar:
    container = container or Container()

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        initialised = container.init_resources()
        if initialised is not None:
            await initialised
        try:
            yield
        finally:
            closed = container.shutdown_resources()
            if closed is not None:
                await closed

    settings = container.settings()
    return Litestar(
        route_handlers=[chat_completions, list_models, health, ready],
        dependencies={
            "complete_chat": _provide(container.complete_chat),
            "served_models": _provide(container.served_models),
            "health_checks": _provide(container.health_checks),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_send=[add_request_id],
        lifespan=[lifespan],
        request_max_body_size=settings.max_request_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
