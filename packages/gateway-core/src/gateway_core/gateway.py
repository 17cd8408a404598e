"""A working gateway in one call: ``build_gateway(providers)``; see docs/IN_PROCESS.md.

Everything not handed in gets the embedded default: in-memory sessions, cache and usage, no
rate limits, no prices (every call costs 0), and the tool loop only when tools are given.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass

from gateway_core.clock import SystemClock
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.pricing import PriceTable
from gateway_core.domain.routing import PatternRoute, RoutingTable
from gateway_core.domain.tool_registry import ToolRegistry
from gateway_core.functions import FunctionTool, FunctionToolBackend, RequiredArgumentsValidator
from gateway_core.memory import (
    InMemoryRateLimitStore,
    InMemoryResponseCache,
    InMemorySessionStore,
    InMemoryUsageStore,
)
from gateway_core.ports.cache import ResponseCache
from gateway_core.ports.clock import Clock
from gateway_core.ports.providers import ChatProvider
from gateway_core.ports.sessions import SessionStore
from gateway_core.ports.tools import ArgumentsValidator
from gateway_core.ports.usage import UsageStore
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.caller import ChatCaller
from gateway_core.use_cases.chat_turn import ChatTurn
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.rate_limit import RateLimiter, RateLimits
from gateway_core.use_cases.serve_chat import ServeChat
from gateway_core.use_cases.sessions import SessionService
from gateway_core.use_cases.tool_loop import ToolLoop
from gateway_core.use_cases.turn_cache import ChatOptions
from gateway_core.use_cases.usage import UsageTracker

IN_PROCESS_CALLER = ChatCaller(None, "in-process")
"""The caller of turns that name none: no key (every model allowed), one rate-limit identity."""


@dataclass(frozen=True, slots=True)
class Gateway:
    """Chat turns with every control, sessions, tools and usage, wired once."""

    chat: ServeChat
    sessions: SessionService
    usage: UsageStore
    tools: ExecuteTool | None
    background: BackgroundTasks

    def start(
        self,
        request: ChatRequest,
        *,
        caller: ChatCaller = IN_PROCESS_CALLER,
        options: ChatOptions | None = None,
    ) -> ChatTurn:
        """A turn to drive yourself (``complete()`` or ``open_stream()``), then read its
        ``outcome`` (cost, cache, tools run)."""
        return self.chat.start(request, caller, options)

    async def complete(
        self,
        request: ChatRequest,
        *,
        caller: ChatCaller = IN_PROCESS_CALLER,
        options: ChatOptions | None = None,
    ) -> ChatResponse:
        return await self.chat.start(request, caller, options).complete()

    async def stream(
        self,
        request: ChatRequest,
        *,
        caller: ChatCaller = IN_PROCESS_CALLER,
        options: ChatOptions | None = None,
    ) -> AsyncGenerator[ChatChunk, None]:
        """The answer's chunks; the last one carries ``finish_reason`` and ``usage``."""
        chunks = await self.chat.start(request, caller, options).open_stream()
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    async def aclose(self, timeout_seconds: float = 10.0) -> None:
        """Let background work (billing, reconciliations) finish before the stores go."""
        await self.background.drain(timeout_seconds)


def build_gateway(
    providers: Iterable[ChatProvider] | Mapping[str, ChatProvider],
    *,
    routing: RoutingTable | None = None,
    tools: Iterable[FunctionTool] = (),
    sessions: SessionStore | None = None,
    cache: ResponseCache | None = None,
    usage: UsageStore | None = None,
    prices: PriceTable | None = None,
    rate_limits: RateLimits | None = None,
    validator: ArgumentsValidator | None = None,
    clock: Clock | None = None,
) -> Gateway:
    """A gateway over ``providers``. Without ``routing``, ``"<provider>/<model>"`` goes to that
    provider, and any other model name to the first provider."""
    by_name = dict(providers) if isinstance(providers, Mapping) else {p.name: p for p in providers}
    if not by_name:
        raise ValueError("A gateway needs at least one provider.")
    clock = clock or SystemClock()
    complete_chat = CompleteChat(routing or _default_routing(by_name), by_name)
    tool_list = tuple(tools)
    execute = None
    tool_loop = None
    if tool_list:
        registry = ToolRegistry(tool.registered for tool in tool_list)
        backends = {"functions": FunctionToolBackend(tool_list)}
        execute = ExecuteTool(registry, backends, validator or RequiredArgumentsValidator())
        tool_loop = ToolLoop(complete_chat, execute, clock=clock)
    usage_store = usage or InMemoryUsageStore(clock)
    session_service = SessionService(sessions or InMemorySessionStore(clock), clock)
    limiter = None
    if rate_limits is not None:
        limiter = RateLimiter(InMemoryRateLimitStore(clock), defaults=rate_limits)
    background = BackgroundTasks()
    serve = ServeChat(
        chat=complete_chat,
        tools=tool_loop,
        sessions=session_service,
        usage=UsageTracker(prices or PriceTable(), usage_store, clock),
        limiter=limiter,
        cache=cache or InMemoryResponseCache(clock),
        background=background,
    )
    return Gateway(serve, session_service, usage_store, execute, background)


def _default_routing(providers: Mapping[str, ChatProvider]) -> RoutingTable:
    first = next(iter(providers))
    return RoutingTable(
        prefixes={f"{name}/": name for name in providers},
        patterns=(PatternRoute("*", first),),
    )
