"""Build one ``ChatProvider`` adapter per usable provider in the configuration."""

from __future__ import annotations

from collections.abc import Mapping

from gateway_adapters.providers.echo import EchoChatProvider
from gateway_core.ports.providers import ChatProvider
from gateway_http.provider_config import ResolvedProvider


def build_chat_providers(providers: Mapping[str, ResolvedProvider]) -> dict[str, ChatProvider]:
    built: dict[str, ChatProvider] = {}
    for name, provider in providers.items():
        if not provider.usable:
            continue
        if provider.config.type == "echo":
            built[name] = EchoChatProvider(name)
    return built


def unconfigured_providers(providers: Mapping[str, ResolvedProvider]) -> dict[str, str]:
    """Provider name -> the setting that would enable it, for providers missing a key."""
    return {
        name: " or ".join(provider.key_settings)
        for name, provider in providers.items()
        if not provider.usable
    }
