"""The composition root: every object the service uses is built here, once.

``Container`` holds two sub-containers: ``adapters`` (configuration files, upstream clients,
providers, stores, tools; ``wiring/adapters.py``) and ``use_cases`` (the core's rules over
them; ``wiring/use_cases.py``). Tests override any provider before ``create_app(container)``,
for example ``container.adapters.chat_providers.override(providers.Object({...}))``.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from gateway_core.clock import SystemClock
from gateway_core.use_cases.background import BackgroundTasks
from gateway_http.settings import Settings
from gateway_http.wiring.adapters import Adapters
from gateway_http.wiring.use_cases import UseCases


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    clock = providers.Singleton(SystemClock)
    background = providers.Singleton(BackgroundTasks)
    """Work no response waits for (reconciliations, lease renewals, budget reads, an abandoned
    stream's billing): drained by the app's lifespan before the stores close."""
    adapters = providers.Container(Adapters, settings=settings, clock=clock, background=background)
    use_cases = providers.Container(
        UseCases, adapters=adapters, settings=settings, clock=clock, background=background
    )


__all__ = ["Container"]
