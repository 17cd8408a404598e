"""``ServeChat``: starts chat turns (``ChatTurn``) with every control around the model call.

The turn's steps, their order and its accounting are ``chat_turn``'s; the cache rules are
``turn_cache``'s; what a session adds to a request and a request to its session is
``session_history``'s. This module holds what a turn is served with, built once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.request_caps import RequestSize, check_model_name
from gateway_core.domain.routing import DeploymentGroup, Target
from gateway_core.ports.cache import ResponseCache
from gateway_core.use_cases.admission import AdmissionPolicy
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.caller import ANONYMOUS_KEY_ID, ChatCaller
from gateway_core.use_cases.chat_turn import ChatTurn, TurnOutcome, TurnParts
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_core.use_cases.curfew import Curfew
from gateway_core.use_cases.rate_limit import RateLimiter
from gateway_core.use_cases.sessions import SessionService
from gateway_core.use_cases.tool_loop import ToolLoop
from gateway_core.use_cases.tool_transcript import ChatCompleter
from gateway_core.use_cases.turn_cache import (
    CachePolicy,
    ChatOptions,
    StoreErrorHook,
    TurnCache,
    ignore_store_error,
)
from gateway_core.use_cases.usage import MonthlyBudget, UsageTracker

__all__ = [
    "ANONYMOUS_KEY_ID",
    "CachePolicy",
    "ChatCaller",
    "ChatOptions",
    "ChatTurn",
    "ServeChat",
    "TurnOutcome",
]

_DEFAULT_OPTIONS = ChatOptions()
T = TypeVar("T")


class ServeChat:
    """``admission`` (permission, limits, budget) may be handed in whole; else it is built
    from ``limiter`` and ``budget``. Without ``tools`` no request engages gateway tools."""

    def __init__(
        self,
        *,
        chat: ChatCompleter,
        sessions: SessionService,
        usage: UsageTracker,
        tools: ToolLoop | None = None,
        limiter: RateLimiter | None = None,
        budget: MonthlyBudget | None = None,
        admission: AdmissionPolicy | None = None,
        cache: ResponseCache | None = None,
        cache_policy: CachePolicy | None = None,
        on_store_error: StoreErrorHook = ignore_store_error,
        background: BackgroundTasks | None = None,
        curfew: Curfew | None = None,
    ) -> None:
        if background is None:
            background = BackgroundTasks()
        if admission is None:
            admission = AdmissionPolicy(limiter=limiter, budget=budget, background=background)
        self.background = background
        self._parts = TurnParts(
            chat=chat,
            tools=tools,
            sessions=sessions,
            usage=usage,
            admission=admission,
            cache=TurnCache(cache, cache_policy, on_store_error),
            on_store_error=on_store_error,
            background=background,
            curfew=curfew or Curfew(),
        )

    def start(
        self,
        request: ChatRequest,
        caller: ChatCaller,
        options: ChatOptions | None = None,
        size: RequestSize | None = None,
    ) -> ChatTurn:
        """A turn for ``request``; nothing runs until a driver (``complete``,
        ``open_stream``) is awaited. ``size``: the client's request in its door's terms
        (the Responses and Messages doors), for the caps' errors to name its parameters."""
        return ChatTurn(self._parts, request, caller, options or _DEFAULT_OPTIONS, size)

    def targets(self, model: str) -> tuple[Target, ...]:
        """Where ``model`` is routed, in order (raises ``ModelNotFoundError``): for a door
        that forwards natively when the first target speaks its format."""
        # An over-long name is refused before it is looked up (or quoted in a 404).
        check_model_name(model, self._parts.admission.caps)
        return self._routed().targets(model)

    def groups(self, model: str) -> tuple[DeploymentGroup, ...]:
        """``model``'s deployment groups, primary first (raises ``ModelNotFoundError``)."""
        check_model_name(model, self._parts.admission.caps)
        return self._routed().groups(model)

    async def first_success(
        self, groups: Sequence[DeploymentGroup], attempt: Callable[[Target], Awaitable[T]]
    ) -> T:
        """A door's own upstream call through the chat calls' retries and fallbacks."""
        return await self._routed().first_success(groups, attempt)

    def _routed(self) -> CompleteChat:
        chat = self._parts.chat
        if not isinstance(chat, CompleteChat):
            raise TypeError("routing needs the turns' model calls to go through CompleteChat")
        return chat

    async def complete(
        self, request: ChatRequest, caller: ChatCaller, options: ChatOptions | None = None
    ) -> TurnOutcome:
        """A whole non-streamed turn; its outcome (the response in ``outcome.response``)."""
        turn = self.start(request, caller, options)
        await turn.complete()
        return turn.outcome
