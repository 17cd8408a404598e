"""Build one ``ChatProvider`` adapter per usable provider in the configuration.

OpenAI-compatible servers (vLLM, DeepSeek, OpenRouter, local inference servers) are the
``openai`` type with another base URL and key: configuration, not code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeGuard

import httpx

from gateway_adapters.http1 import Http1Client
from gateway_adapters.outbound_proxy import DIRECT, Proxy, ProxyRules
from gateway_adapters.providers.anthropic import AnthropicChatProvider
from gateway_adapters.providers.echo import EchoChatProvider, EchoEmbeddingProvider
from gateway_adapters.providers.ollama import OllamaChatProvider
from gateway_adapters.providers.openai import OpenAIChatProvider
from gateway_core.ports.embeddings import EmbeddingProvider
from gateway_core.ports.providers import ChatProvider
from gateway_http.provider_config import ResolvedProvider
from gateway_http.wiring.cloud_providers import CLOUD_BUILDERS, CLOUD_EMBEDDERS


class UpstreamClients:
    """The pooled HTTP clients every adapter shares (opened and closed by the lifespan).

    The shared clients reach upstreams directly or through the environment's proxies
    (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``); a provider with its own ``proxy`` setting
    gets clients of its own, one pair per distinct setting, made on first use."""

    def __init__(
        self,
        http1: Http1Client,
        client: httpx.AsyncClient,
        make: Callable[[ProxyRules], tuple[Http1Client, httpx.AsyncClient]] | None = None,
    ) -> None:
        self.http1 = http1
        """OpenAI-compatible and Anthropic providers: the hot path."""
        self.client = client
        """Ollama (NDJSON) and the tool backends."""
        self._make = make
        self._own: dict[str, tuple[Http1Client, httpx.AsyncClient]] = {}

    def _pair(self, provider: ResolvedProvider) -> tuple[Http1Client, httpx.AsyncClient]:
        setting = provider.config.proxy
        if setting is None or self._make is None:
            return self.http1, self.client
        pair = self._own.get(setting)
        if pair is None:
            proxy = None if setting == DIRECT else Proxy.parse(setting)
            pair = self._own[setting] = self._make(ProxyRules.through(proxy))
        return pair

    def http1_for(self, provider: ResolvedProvider) -> Http1Client:
        return self._pair(provider)[0]

    def client_for(self, provider: ResolvedProvider) -> httpx.AsyncClient:
        return self._pair(provider)[1]

    async def close_own(self) -> None:
        for http1, client in self._own.values():
            await client.aclose()
            await http1.close()
        self._own.clear()


def _openai(provider: ResolvedProvider, clients: UpstreamClients) -> ChatProvider:
    config = provider.config
    return OpenAIChatProvider(
        name=provider.name,
        base_url=provider.base_url or "",
        api_key=provider.api_key,
        client=clients.http1_for(provider),
        deadlines=provider.deadlines,
        headers=config.headers,
    )


def _anthropic(provider: ResolvedProvider, clients: UpstreamClients) -> ChatProvider:
    config = provider.config
    return AnthropicChatProvider(
        name=provider.name,
        base_url=provider.base_url or "",
        api_key=provider.api_key,
        client=clients.http1_for(provider),
        deadlines=provider.deadlines,
        default_max_tokens=config.default_max_tokens or 4096,
        max_tokens_by_model=config.max_tokens_by_model,
        headers=config.headers,
    )


def _ollama(provider: ResolvedProvider, clients: UpstreamClients) -> ChatProvider:
    return OllamaChatProvider(
        name=provider.name,
        base_url=provider.base_url or "",
        client=clients.client_for(provider),
        deadlines=provider.deadlines,
    )


def _echo(provider: ResolvedProvider, clients: UpstreamClients) -> ChatProvider:
    return EchoChatProvider(provider.name)


_BUILDERS: dict[str, Callable[[ResolvedProvider, UpstreamClients], ChatProvider]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "ollama": _ollama,
    "echo": _echo,
    **CLOUD_BUILDERS,
}


def build_chat_providers(
    providers: Mapping[str, ResolvedProvider], clients: UpstreamClients
) -> dict[str, ChatProvider]:
    return {
        name: _BUILDERS[provider.config.type](provider, clients)
        for name, provider in providers.items()
        if provider.usable
    }


def build_embedding_providers(
    providers: Mapping[str, ResolvedProvider], chat_providers: Mapping[str, ChatProvider]
) -> dict[str, EmbeddingProvider]:
    """The usable providers that embed: OpenAI-compatible ones (the chat adapter serves
    ``/embeddings`` too) and the echo test provider."""
    built: dict[str, EmbeddingProvider] = {}
    for name, provider in providers.items():
        if not provider.usable:
            continue
        chat = chat_providers.get(name)
        embeds = provider.config.type == "openai" or provider.config.type in CLOUD_EMBEDDERS
        if embeds and _embeds(chat):
            built[name] = chat
        elif provider.config.type == "echo":
            built[name] = EchoEmbeddingProvider(name)
    return built


def _embeds(provider: object) -> TypeGuard[EmbeddingProvider]:
    """Whether ``provider`` also embeds: a test may override the chat providers with fakes
    that do not (or leave a configured provider out)."""
    return callable(getattr(provider, "embed", None))


def usable_providers(providers: Mapping[str, ResolvedProvider]) -> tuple[str, ...]:
    return tuple(name for name, provider in providers.items() if provider.usable)


def unconfigured_providers(providers: Mapping[str, ResolvedProvider]) -> dict[str, str]:
    """Provider name -> the setting that would enable it, for providers missing a key."""
    return {
        name: " or ".join(provider.key_settings)
        for name, provider in providers.items()
        if not provider.usable
    }
