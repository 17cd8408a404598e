"""Create embeddings through the same routing table (and fallbacks) as chat, with the same
controls: the key's model permission (403), rate-limit admission (429; the inputs' estimated
tokens are reserved and reconciled), usage and cost recorded per key.

A model routed to a provider that has no embeddings (Anthropic, say) is a 400 naming the
model, not a 500.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from gateway_core.domain.money import Money
from gateway_core.domain.request_caps import RequestSize
from gateway_core.domain.routing import RoutingTable, Target
from gateway_core.errors import (
    InvalidRequestError,
    ProviderNotConfiguredError,
    StoreUnavailableError,
)
from gateway_core.ports.embeddings import EmbeddingProvider
from gateway_core.use_cases.admission import AdmissionPolicy
from gateway_core.use_cases.caller import ChatCaller
from gateway_core.use_cases.fallback import Fallback
from gateway_core.use_cases.rate_limit import RateLimiter
from gateway_core.use_cases.usage import UsageTracker


class CreateEmbeddings:
    def __init__(
        self,
        routing: RoutingTable,
        providers: Mapping[str, EmbeddingProvider],
        configured: Collection[str],
        unconfigured: Mapping[str, str] | None = None,
        *,
        usage: UsageTracker | None = None,
        limiter: RateLimiter | None = None,
        admission: AdmissionPolicy | None = None,
        fallback: Fallback | None = None,
    ) -> None:
        """``providers``: the usable providers that embed; ``configured``: every usable
        provider's name (a model routed to one that does not embed gets a clear 400);
        ``unconfigured``: provider names without a key -> the setting that would enable them;
        ``admission`` (else one built from ``limiter``) and ``fallback`` are chat's."""
        self._routing = routing
        self._providers = providers
        self._configured = frozenset(configured)
        self._unconfigured = unconfigured or {}
        self._usage = usage
        self._admission = admission or AdmissionPolicy(limiter=limiter)
        self._fallback = fallback or Fallback()

    def reroute(
        self,
        routing: RoutingTable,
        providers: Mapping[str, EmbeddingProvider],
        configured: Collection[str],
        unconfigured: Mapping[str, str],
    ) -> None:
        """A reloaded providers file: new routes and providers, assigned together with no
        await in between (a running request's next attempt may already use them)."""
        self._routing = routing
        self._providers = providers
        self._configured = frozenset(configured)
        self._unconfigured = unconfigured

    def _provider(self, target: Target, model: str) -> EmbeddingProvider:
        provider = self._providers.get(target.provider)
        if provider is not None:
            return provider
        if target.provider in self._configured:
            raise InvalidRequestError(
                f"The model '{model}' is served by a provider without embeddings.",
                param="model",
            )
        setting = self._unconfigured.get(target.provider, "")
        hint = f": set {setting}" if setting else ""
        raise ProviderNotConfiguredError(
            f"The provider '{target.provider}' for this model is not configured{hint}.",
            param="model",
        )

    async def serve(
        self, request: EmbeddingRequest, caller: ChatCaller
    ) -> tuple[EmbeddingResponse, Money]:
        """Embed for ``caller`` with every control; returns the answer and its cost."""
        admission = self._admission
        estimate = sum(-(-len(text) // 4) for text in request.inputs)
        size = RequestSize(request.model, len(request.inputs), items_param="input")
        admitted = await admission.admit(caller, request.model, estimate, size)
        try:
            response = await self.embed(request)
        except BaseException:
            await admission.release(admitted)
            raise
        cost = await self._account(caller, response)
        admission.note_spend(caller.key_id, cost)
        admission.settle(admitted, response.usage.total_tokens)
        return response, cost

    async def _account(self, caller: ChatCaller, response: EmbeddingResponse) -> Money:
        if self._usage is None:
            return Money.ZERO
        usage, model = response.usage, response.model
        try:
            event = await self._usage.record(
                key_id=caller.key_id, model=model, provider=response.provider, usage=usage
            )
        except StoreUnavailableError:
            return self._usage.quote(model, usage).cost_usd
        return event.cost_usd

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Route and embed, falling back on retryable failures; no controls."""

        async def attempt(target: Target) -> EmbeddingResponse:
            provider = self._provider(target, request.model)
            return await provider.embed(replace(request, model=target.model))

        return await self._fallback.first_success(self._routing.groups(request.model), attempt)
