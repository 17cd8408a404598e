"""The native front-door adapters of the configured providers (see ``ports.native``).

``/v1/responses`` goes natively to ``openai`` providers that have the Responses API (OpenAI's
own, or any with ``responses_api: true``); ``/v1/messages`` to every ``anthropic`` provider,
and to the Claude models of ``bedrock`` (InvokeModel) and ``vertex_ai`` (rawPredict)
providers (``CLOUD_MESSAGES``; each says which models with ``serves``). Everything else is
translated through the chat turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from gateway_adapters.providers.anthropic.messages_passthrough import AnthropicMessagesPassthrough
from gateway_adapters.providers.openai.responses_passthrough import OpenAIResponsesPassthrough
from gateway_core.ports.native import NativeFormatProvider, NativeTokenCounter
from gateway_http.provider_config import ResolvedProvider
from gateway_http.wiring.cloud_providers import CLOUD_MESSAGES
from gateway_http.wiring.provider_factory import UpstreamClients


@dataclass(frozen=True, slots=True)
class NativeProviders:
    responses: Mapping[str, NativeFormatProvider] = field(default_factory=dict)
    messages: Mapping[str, NativeFormatProvider] = field(default_factory=dict)
    token_counters: Mapping[str, NativeTokenCounter] = field(default_factory=dict)
    formats: Mapping[str, str] = field(default_factory=dict)
    """Every usable provider's type (``openai``, ``anthropic``...): what a door's translated
    path maps its request for (``thinking`` to Anthropic, ``reasoning_effort`` elsewhere)."""


def _speaks_responses(provider: ResolvedProvider) -> bool:
    if provider.config.type != "openai":
        return False
    if provider.config.responses_api is not None:
        return provider.config.responses_api
    return urlsplit(provider.base_url or "").hostname == "api.openai.com"


def build_native_providers(
    providers: Mapping[str, ResolvedProvider], clients: UpstreamClients
) -> NativeProviders:
    responses: dict[str, NativeFormatProvider] = {}
    messages: dict[str, NativeFormatProvider] = {}
    counters: dict[str, NativeTokenCounter] = {}
    formats: dict[str, str] = {}
    for name, provider in providers.items():
        if not provider.usable:
            continue
        config = provider.config
        formats[name] = config.type
        common = {
            "name": name, "base_url": provider.base_url or "", "api_key": provider.api_key,
            "client": clients.http1_for(provider), "deadlines": provider.deadlines,
            "headers": config.headers,
        }  # fmt: skip
        if _speaks_responses(provider):
            responses[name] = OpenAIResponsesPassthrough(**common)  # type: ignore[arg-type]
        elif config.type == "anthropic":
            anthropic = AnthropicMessagesPassthrough(**common)  # type: ignore[arg-type]
            messages[name] = counters[name] = anthropic
        elif config.type in CLOUD_MESSAGES:
            messages[name] = CLOUD_MESSAGES[config.type](provider, clients)
    return NativeProviders(responses, messages, counters, formats)


def refresh_in_place(current: NativeProviders, new: NativeProviders) -> None:
    """A reloaded providers file: the doors hold ``current``'s mappings, so they are updated in
    place, new and changed providers first, then the removed ones (a request that already
    picked a removed provider as native may still fail in that instant)."""
    pairs = (
        (current.responses, new.responses),
        (current.messages, new.messages),
        (current.token_counters, new.token_counters),
        (current.formats, new.formats),
    )
    for held, fresh in pairs:
        mapping = cast(dict[str, Any], held)
        mapping.update(fresh)
        for name in set(mapping) - set(fresh):
            del mapping[name]
