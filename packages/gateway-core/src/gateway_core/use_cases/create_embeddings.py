"""Create embeddings through the same routing table (and fallbacks) as chat, with the same
controls: the key's model permission (403), rate-limit admission (429; the inputs' estimated
tokens are reserved and reconciled), usage and cost recorded per key.

A model routed to a provider that has no embeddings (Anthropic, say) is a 400 naming the
model, not a 500.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from gateway_core.clock import SystemClock
from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from gateway_core.domain.routing import RoutingTable, Target
from gateway_core.errors import (
    InvalidRequestError,
    PermissionDeniedError,
    ProviderNotConfiguredError,
    StoreUnavailableError,
)
from gateway_core.ports.embeddings import EmbeddingProvider
from gateway_core.resilience.planner import AttemptPlanner
from gateway_core.use_cases.background import run_in_background
from gateway_core.use_cases.rate_limit import RateLimiter
from gateway_core.use_cases.serve_chat import ChatCaller
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
        planner: AttemptPlanner | None = None,
    ) -> None:
        """``providers``: the usable providers that embed; ``configured``: every usable
        provider's name (a model routed to one that does not embed gets a clear 400);
        ``unconfigured``: provider names without a key -> the setting that would enable them."""
        self._routing = routing
        self._providers = providers
        self._configured = frozenset(configured)
        self._unconfigured = unconfigured or {}
        self._usage = usage
        self._limiter = limiter
        self._planner = planner or AttemptPlanner(SystemClock())

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
    ) -> tuple[EmbeddingResponse, float]:
        """Embed for ``caller`` with every control; returns the answer and its cost (USD)."""
        if caller.key is not None and not caller.key.allows_model(request.model):
            raise PermissionDeniedError(
                f"This API key may not use the model '{request.model}'.", param="model"
            )
        admission = None
        if self._limiter is not None:
            estimate = sum(-(-len(text) // 4) for text in request.inputs)
            limits = self._limiter.limits_for(caller.key)
            admission = await self._limiter.admit(
                caller.identity, estimated_tokens=estimate, limits=limits
            )
        try:
            response = await self.embed(request)
        except BaseException:
            if admission is not None and self._limiter is not None:
                await self._limiter.reconcile(admission, 0)
            raise
        cost = await self._account(caller, response)
        if admission is not None and self._limiter is not None:
            run_in_background(self._limiter.reconcile(admission, response.usage.total_tokens))
        return response, cost

    async def _account(self, caller: ChatCaller, response: EmbeddingResponse) -> float:
        if self._usage is None:
            return 0.0
        args = {"key_id": caller.key_id, "model": response.model, "provider": response.provider}
        try:
            return (await self._usage.record(**args, usage=response.usage)).cost_usd
        except StoreUnavailableError:
            return self._usage.quote(response.model, response.usage).cost_usd

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Route and embed, retrying and falling back on retryable failures; no controls."""

        async def call(target: Target) -> EmbeddingResponse:
            provider = self._provider(target, request.model)
            return await provider.embed(replace(request, model=target.model))

        return await self._planner.run(self._routing.groups(request.model), call)
