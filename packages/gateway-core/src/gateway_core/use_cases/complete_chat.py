"""Complete a chat through the provider router, with fallbacks before the first byte."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.evolve import evolve
from gateway_core.domain.routing import DeploymentGroup, RoutingTable, Target
from gateway_core.errors import ProviderError, ProviderNotConfiguredError
from gateway_core.ports.providers import ChatProvider
from gateway_core.use_cases.fallback import Fallback

T = TypeVar("T")
_Opened = tuple[Target, ChatChunk | None, AsyncGenerator[ChatChunk, None]]


@dataclass(frozen=True, slots=True)
class ChatRoutes:
    """What routing needs, replaced whole on a configuration reload (see ``reroute``)."""

    routing: RoutingTable
    providers: Mapping[str, ChatProvider]
    unconfigured: Mapping[str, str]


class CompleteChat:
    """Route a request to one of its deployments; on a retryable failure, retry or try the
    route's other deployments and fallbacks, as the ``Fallback`` helper's planner decides.

    ``unconfigured`` maps provider names that exist in configuration but cannot serve (no API
    key) to the setting that would enable them, so the client gets a clear 503, not a 500.
    ``on_provider_error`` sees every failed upstream call, the ones a fallback rescued too
    (for metrics); ``fallback`` may be handed in instead, to share one across use cases.
    """

    def __init__(
        self,
        routing: RoutingTable,
        providers: Mapping[str, ChatProvider],
        unconfigured: Mapping[str, str] | None = None,
        on_provider_error: Callable[[ProviderError], None] | None = None,
        *,
        fallback: Fallback | None = None,
    ) -> None:
        self._routes = ChatRoutes(routing, providers, unconfigured or {})
        self._fallback = fallback or Fallback(on_provider_error)

    def reroute(self, routes: ChatRoutes) -> None:
        """Serve new requests with ``routes``; a request already running keeps the routes it
        started with (it read ``self._routes`` once), so a reload never changes it midway."""
        self._routes = routes

    @property
    def routing(self) -> RoutingTable:
        """The routing table new requests use (``reroute`` replaces it)."""
        return self._routes.routing

    def targets(self, model: str) -> tuple[Target, ...]:
        return self._routes.routing.resolve(model)

    def groups(self, model: str) -> tuple[DeploymentGroup, ...]:
        return self._routes.routing.groups(model)

    async def first_success(
        self, groups: Sequence[DeploymentGroup], attempt: Callable[[Target], Awaitable[T]]
    ) -> T:
        """``attempt`` through ``groups`` with the chat calls' own planner (health, retry
        budgets): for a door that calls a provider in its own format."""
        return await self._fallback.first_success(groups, attempt)

    @staticmethod
    def _provider(routes: ChatRoutes, target: Target) -> ChatProvider:
        provider = routes.providers.get(target.provider)
        if provider is None:
            setting = routes.unconfigured.get(target.provider, "")
            hint = f": set {setting}" if setting else ""
            raise ProviderNotConfiguredError(
                f"The provider '{target.provider}' for this model is not configured{hint}.",
                param="model",
            )
        return provider

    def complete(self, request: ChatRequest) -> Coroutine[Any, Any, ChatResponse]:
        """The answer, through the route's attempts (await it; the planner's coroutine is
        returned as it is, a frame less per call)."""
        routes = self._routes

        def attempt(target: Target) -> Awaitable[ChatResponse]:
            provider = self._provider(routes, target)
            return provider.complete(_addressed_to(request, target))

        return self._fallback.first_success(routes.routing.groups(request.model), attempt)

    async def _open(self, request: ChatRequest, routes: ChatRoutes, target: Target) -> _Opened:
        """The target's stream and its first chunk (``None``: the stream was empty)."""
        chunks = self._provider(routes, target).stream(_addressed_to(request, target))
        try:
            return target, await anext(chunks, None), chunks
        except BaseException:
            await chunks.aclose()
            raise

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        """Open the stream, falling back while nothing has been produced; then relay it.

        Errors after the first chunk propagate: the client already has part of an answer.
        """
        routes = self._routes
        target, first, chunks = await self._fallback.first_success(
            routes.routing.groups(request.model),
            lambda target: self._open(request, routes, target),
        )
        try:
            if first is None:
                return
            if first.provider != target.provider or not first.model:
                first = evolve(first, model=first.model or target.model, provider=target.provider)
            yield first
            async for chunk in chunks:
                yield chunk
        except ProviderError as error:
            self._fallback.report(error)
            raise
        finally:
            # Close the upstream stream promptly when the client goes away.
            await chunks.aclose()


def _addressed_to(request: ChatRequest, target: Target) -> ChatRequest:
    """The request with the provider's own model id, and ``drop_params`` when the request or
    the target's configuration asks for it; most requests pass through unchanged, and copying
    a request (``dataclasses.replace`` then, ``evolve`` now) was 1.7% of the CPU under load."""
    drop = target.drop_params and not request.drop_params
    if request.model == target.model and not drop:
        return request
    return evolve(request, model=target.model, drop_params=request.drop_params or drop)
