"""Serve one chat turn with every control around the model call.

In order: the key may use the model (403), the rate limiter admits the request (429), the
key is within its monthly budget (402), the session's turn begins (404, 409), the cache is
consulted, the model answers (through the tool loop when the request offers gateway tools),
and then the turn is accounted: usage and cost recorded, the session committed, the answer
cached, the token reservation reconciled with the real usage.

Sessions: the stored history goes before the request's messages. When the request brings its
own system message(s), the stored leading ones are left out and the request's leading ones go
first, before the history, for this call only; the stored conversation keeps its first system
prompt. A turn commits the request's new messages (system messages only on a session's first
turn) and everything the answer added: the assistant's tool calls, the tool results of the
gateway's tool loop, the final assistant message; and adds the turn's tokens (all rounds, as
the response reports them, a cache hit's too) and its cost as charged (0 for a cache hit) to
the session's totals.

Cache: only for requests the policy allows (by default temperature 0, one choice), keyed by
everything that changes the answer plus the caller's key id (see ``domain.cache_keys``).
Answers that ran gateway tools are never stored: the tools' results may change. A cache store
that is down is a miss, never a failure; so is a usage sink that is down (the answer was paid
for and reaches the client; ``on_store_error`` counts the loss).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from gateway_core.domain.api_keys import ApiKey
from gateway_core.domain.cache_keys import CacheUse, cache_key, is_cacheable, is_storable
from gateway_core.domain.chat import ChatRequest, ChatResponse
from gateway_core.domain.messages import Message
from gateway_core.domain.tool_registry import ToolRun
from gateway_core.domain.usage import Usage
from gateway_core.errors import GatewayError, PermissionDeniedError, StoreUnavailableError
from gateway_core.ports.cache import ResponseCache
from gateway_core.use_cases.background import run_in_background
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_core.use_cases.rate_limit import Admission, RateLimiter, estimate_tokens
from gateway_core.use_cases.sessions import SessionService, SessionTurn
from gateway_core.use_cases.tool_loop import ToolLoop
from gateway_core.use_cases.usage import MonthlyBudget, UsageTracker

ANONYMOUS_KEY_ID = "anonymous"
"""The key id usage and cache entries are filed under when authentication is off."""

_SYSTEM_ROLES = frozenset({"system", "developer"})


@dataclass(frozen=True, slots=True)
class ChatCaller:
    key: ApiKey | None
    """The authenticated client key; ``None`` when authentication is off."""
    identity: str
    """Whom rate limits count against (a key id, or a hashed client address)."""

    @property
    def key_id(self) -> str:
        return self.key.id if self.key is not None else ANONYMOUS_KEY_ID

    @property
    def owner(self) -> str | None:
        return self.key.id if self.key is not None else None


@dataclass(frozen=True, slots=True)
class ChatOptions:
    session_id: str | None = None
    offer_all_tools: bool = False
    cache: CacheUse = field(default_factory=CacheUse)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    enabled: bool = True
    ttl_seconds: float = 300.0
    only_deterministic: bool = True


@dataclass(slots=True)
class ChatOutcome:
    """What the HTTP shell reports about a turn (headers, extension fields, the log line)."""

    response: ChatResponse | None = None
    rate_limit_headers: Mapping[str, str] = field(default_factory=dict)
    cache: str | None = None
    """``HIT`` or ``MISS`` when the cache was consulted, else ``None``."""
    cost_usd: float = 0.0
    tool_runs: tuple[ToolRun, ...] = ()
    tool_rounds: int = 0
    notice: str | None = None
    aborted: bool = False
    upstream_seconds: float | None = None
    """Time spent waiting on the model (all rounds, fallbacks and tools included)."""


def _ignore(_store: str, _error: GatewayError) -> None:
    return None


class ServeChat:
    def __init__(
        self,
        *,
        chat: CompleteChat,
        tools: ToolLoop,
        sessions: SessionService,
        usage: UsageTracker,
        limiter: RateLimiter | None = None,
        budget: MonthlyBudget | None = None,
        cache: ResponseCache | None = None,
        cache_policy: CachePolicy | None = None,
        on_store_error: Callable[[str, GatewayError], None] = _ignore,
    ) -> None:
        self.chat = chat
        self.tools = tools
        self.sessions = sessions
        self.usage = usage
        self.limiter = limiter
        self.budget = budget
        self.cache = cache
        self.cache_policy = cache_policy or CachePolicy()
        self.on_store_error = on_store_error

    # -- the steps, shared with the streaming path ------------------------------------------

    async def admit(self, request: ChatRequest, caller: ChatCaller, outcome: ChatOutcome) -> Admission | None:
        """Model permission, rate limit and budget: everything before the model is called."""
        if caller.key is not None and not caller.key.allows_model(request.model):
            raise PermissionDeniedError(
                f"This API key may not use the model '{request.model}'.", param="model"
            )
        admission = None
        if self.limiter is not None:
            limits = self.limiter.limits_for(caller.key)
            admission = await self.limiter.admit(
                caller.identity, estimated_tokens=estimate_tokens(request), limits=limits
            )
            outcome.rate_limit_headers = admission.headers
        if self.budget is not None and caller.key is not None:
            await self.budget.ensure_within_budget(caller.key.id, caller.key.monthly_budget_usd)
        return admission

    @asynccontextmanager
    async def turn(self, options: ChatOptions, caller: ChatCaller) -> AsyncIterator[SessionTurn | None]:
        if options.session_id is None:
            yield None
            return
        async with self.sessions.turn(options.session_id, caller.owner) as turn:
            yield turn

    def cache_key_for(self, request: ChatRequest, caller: ChatCaller, options: ChatOptions) -> str | None:
        policy = self.cache_policy
        if self.cache is None or not policy.enabled:
            return None
        if not (options.cache.read or options.cache.write):
            return None
        if self.tools.engages(request, options.offer_all_tools):
            return None
        if not is_cacheable(request, only_deterministic=policy.only_deterministic):
            return None
        return cache_key(request, caller.key_id)

    async def cached(self, key: str | None, options: ChatOptions, outcome: ChatOutcome) -> ChatResponse | None:
        if key is None:
            return None
        outcome.cache = "MISS"
        if not options.cache.read or self.cache is None:
            return None
        try:
            hit = await self.cache.get(key)
        except StoreUnavailableError as error:
            self.on_store_error("cache", error)
            return None
        if hit is None:
            return None
        outcome.cache = "HIT"
        return replace(hit, id=f"chatcmpl-{uuid.uuid4().hex}")

    async def store(self, key: str | None, options: ChatOptions, response: ChatResponse) -> None:
        if key is None or self.cache is None or not options.cache.write:
            return
        if not is_storable(response):
            return
        try:
            await self.cache.set(key, response, self.cache_policy.ttl_seconds)
        except StoreUnavailableError as error:
            self.on_store_error("cache", error)

    async def account(
        self,
        caller: ChatCaller,
        admission: Admission | None,
        response: ChatResponse,
        outcome: ChatOutcome,
    ) -> None:
        """Record usage and cost, and settle the token reservation. Never raises."""
        hit = outcome.cache == "HIT"
        args = {"key_id": caller.key_id, "model": response.model, "provider": response.provider}
        try:
            event = await self.usage.record(**args, usage=response.usage, cache_hit=hit)
            outcome.cost_usd = event.cost_usd
        except StoreUnavailableError as error:
            self.on_store_error("usage", error)
            outcome.cost_usd = 0.0 if hit else self.usage.quote(response.model, response.usage).cost_usd
        if self.budget is not None and outcome.cost_usd:
            self.budget.note(caller.key_id, outcome.cost_usd)
        if admission is not None and self.limiter is not None:
            spent = 0 if hit else response.usage.total_tokens
            # A store round trip the answer need not wait for (reconcile never raises); it
            # reaches Redis before the client can send its next request.
            run_in_background(self.limiter.reconcile(admission, spent))

    async def release(self, admission: Admission | None) -> None:
        """A turn that produced nothing gives its token reservation back."""
        if admission is not None and self.limiter is not None:
            await self.limiter.reconcile(admission, 0)

    # -- the non-streaming turn -------------------------------------------------------------

    async def complete(
        self,
        request: ChatRequest,
        caller: ChatCaller,
        options: ChatOptions,
        outcome: ChatOutcome | None = None,
    ) -> ChatOutcome:
        """``outcome`` may be handed in, so that a caller still reads it (the rate-limit
        headers, say) when the turn fails after admission."""
        outcome = outcome if outcome is not None else ChatOutcome()
        admission = await self.admit(request, caller, outcome)
        answered = False
        try:
            async with self.turn(options, caller) as turn:
                full = with_history(request, turn)
                key = self.cache_key_for(full, caller, options)
                response = await self.cached(key, options, outcome)
                exchange: tuple[Message, ...]
                if response is None:
                    started = time.perf_counter()
                    response, exchange = await self._answer(full, options, outcome)
                    outcome.upstream_seconds = time.perf_counter() - started
                    await self.store(key, options, response)
                else:
                    exchange = (response.choices[0].message,)
                answered = True
                outcome.response = response
                await self.account(caller, admission, response, outcome)
                if turn is not None:
                    await turn.commit(
                        new_messages(request, turn, exchange),
                        usage=response.usage,
                        cost_usd=outcome.cost_usd,
                    )
        finally:
            if not answered:
                await self.release(admission)
        return outcome

    async def _answer(
        self, request: ChatRequest, options: ChatOptions, outcome: ChatOutcome
    ) -> tuple[ChatResponse, tuple[Message, ...]]:
        if not self.tools.engages(request, options.offer_all_tools):
            response = await self.chat.complete(request)
            outcome.tool_rounds = 0
            return response, (response.choices[0].message,)
        result = await self.tools.complete(request, offer_all_tools=options.offer_all_tools)
        outcome.tool_runs = result.tool_runs
        outcome.tool_rounds = max((run.round for run in result.tool_runs), default=0)
        outcome.notice = result.notice
        return result.response, result.exchange


def with_history(request: ChatRequest, turn: SessionTurn | None) -> ChatRequest:
    """The request with the session's history before its messages (see the module docstring)."""
    if turn is None or not turn.history:
        return request
    history = turn.history
    if not any(m.role in _SYSTEM_ROLES for m in request.messages):
        return replace(request, messages=(*history, *request.messages))
    # The request's own system prompt takes the stored one's place: at the head, where the
    # vendors expect it, not after the history.
    rest = _without_leading_system(request.messages)
    head = request.messages[: len(request.messages) - len(rest)]
    return replace(request, messages=(*head, *_without_leading_system(history), *rest))


def new_messages(
    request: ChatRequest, turn: SessionTurn, exchange: tuple[Message, ...]
) -> tuple[Message, ...]:
    """What a turn adds to its session: the request's messages and the answer's exchange."""
    kept = request.messages
    if turn.history:
        kept = tuple(m for m in kept if m.role not in _SYSTEM_ROLES)
    return (*kept, *exchange)


def _without_leading_system(history: tuple[Message, ...]) -> tuple[Message, ...]:
    start = 0
    while start < len(history) and history[start].role in _SYSTEM_ROLES:
        start += 1
    return history[start:]


def estimate_partial_usage(request: ChatRequest, generated_chars: int) -> Usage:
    """Usage of a stream that ended before the upstream reported any: about 4 chars a token."""
    prompt_chars = sum(len(m.text) for m in request.messages)
    return Usage(prompt_tokens=-(-prompt_chars // 4), completion_tokens=-(-generated_chars // 4))
