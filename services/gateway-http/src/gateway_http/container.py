"""The composition root: every object the service uses is built here, and only here."""

from __future__ import annotations

import logging
import os

from dependency_injector import containers, providers

from gateway_core.clock import SystemClock
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_http.health import HealthCheck
from gateway_http.provider_config import (
    load_gateway_config,
    resolve_providers,
    routing_table,
    served_models,
)
from gateway_http.provider_factory import build_chat_providers, unconfigured_providers
from gateway_http.settings import Settings
from gateway_http.upstream_clients import open_upstream_clients

log = logging.getLogger("gateway_http")


async def _providers_check(models: tuple) -> dict:
    if not models:
        raise LookupError("no model can be served")
    return {"models": len(models)}


def _health_checks(models: tuple) -> tuple[HealthCheck, ...]:
    return (HealthCheck("providers", lambda: _providers_check(models), critical=True),)


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    environ = providers.Object(os.environ)
    clock = providers.Singleton(SystemClock)

    gateway_config = providers.Singleton(load_gateway_config, settings.provided.providers_config)
    resolved_providers = providers.Singleton(resolve_providers, gateway_config, environ)
    upstream_clients = providers.Resource(open_upstream_clients, settings)
    chat_providers = providers.Singleton(build_chat_providers, resolved_providers, upstream_clients)
    complete_chat = providers.Singleton(
        CompleteChat,
        providers.Singleton(routing_table, gateway_config),
        chat_providers,
        providers.Singleton(unconfigured_providers, resolved_providers),
    )
    served_models = providers.Singleton(served_models, gateway_config, resolved_providers)
    health_checks = providers.Singleton(_health_checks, served_models)
