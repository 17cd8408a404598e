"""One chat turn: the unit of work every front door drives (JSON, SSE, and the next ones).

A ``ChatTurn`` owns the whole turn, in one order for every driver:

1. admission (``AdmissionPolicy``): the request is within the caps (400, ``request_caps``),
   the key may use the model (403), the rate limiter admits it (429), the key is within its
   monthly budget (402);
2. the session's turn (``SessionService``): its lock and history (404, 409, 503);
3. the exact-match cache (``TurnCache``): a hit answers without a model call;
4. the model, through the tool loop when the request offers gateway tools;
5. the end, in this order: usage and cost recorded (``UsageTracker``; a down store is logged,
   never fails a paid answer), the session committed, the answer cached, the token
   reservation reconciled with the real usage.

A stream is cut with ``UpstreamTooLargeError`` once its text passes the model's output cap
(an upstream ignoring ``max_tokens``; ``OutputCap``), here, where every stream a turn relays
passes, whichever door drives it; the byte cap on any upstream answer is the HTTP client's.

A turn that ends early (an error, a client that went away mid-stream) is abandoned by one
method, exactly once: it is billed for what it produced (usage as the upstream reported it,
else estimated from the text generated), or gives its reservation back if it produced
nothing; the session is left uncommitted and its lock released.

Drivers: ``await turn.complete()`` returns the ``ChatResponse``; ``await turn.open_stream()``
runs everything that can still fail with a status (up to the model's first chunk) and returns
the chunks, whose end is one chunk carrying ``finish_reason`` and ``usage``, yielded after the
turn was settled. A door that forwards a request in the provider's own format (the Responses
and Messages APIs' native path) drives the same turn around a call it makes itself:
``begin_forwarded()`` (admission), then ``end_forwarded(response)`` with what the provider
reported, or ``abandon_forwarded()`` when the call produced nothing. Either way
``turn.outcome`` is the immutable account of the turn (readable after a failure too: the
rate-limit headers an error response still carries).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, Choice
from gateway_core.domain.evolve import direct_init, evolve
from gateway_core.domain.messages import Message
from gateway_core.domain.money import Money
from gateway_core.domain.relay_tap import RELAY_TAP, RelayTap
from gateway_core.domain.request_caps import OutputCap, RequestSize, chat_size
from gateway_core.domain.stream_accumulator import StreamAccumulator
from gateway_core.domain.tool_registry import ToolRun
from gateway_core.domain.usage import Usage, UsageEvent
from gateway_core.errors import StoreUnavailableError, UpstreamTooLargeError
from gateway_core.use_cases.admission import AdmissionPolicy
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.caller import ChatCaller
from gateway_core.use_cases.curfew import Curfew, shutting_down
from gateway_core.use_cases.rate_limit import Admission, estimate_tokens
from gateway_core.use_cases.session_history import new_messages, with_history
from gateway_core.use_cases.sessions import SessionService, SessionTurn
from gateway_core.use_cases.tool_loop import ToolLoop, ToolLoopResult, ToolLoopStream
from gateway_core.use_cases.tool_transcript import ChatCompleter, Transcript
from gateway_core.use_cases.turn_cache import ChatOptions, StoreErrorHook, TurnCache, replay
from gateway_core.use_cases.usage import UsageTracker

T = TypeVar("T")

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@direct_init
@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """What a turn did: for response headers, extension fields and the request log."""

    response: ChatResponse | None = None
    rate_limit_headers: Mapping[str, str] = field(default_factory=dict)
    cache: str | None = None
    """``HIT`` or ``MISS`` when the cache was consulted, else ``None``."""
    cost_usd: Money = Money.ZERO
    tool_runs: tuple[ToolRun, ...] = ()
    tool_rounds: int = 0
    notice: str | None = None
    aborted: bool = False
    """The turn ended before its answer did (the client went away, the upstream failed)."""
    upstream_seconds: float | None = None
    """Time spent waiting on the model (all rounds, fallbacks and tools included)."""
    dropped_params: tuple[str, ...] = ()
    """Request fields the provider left out (``drop_params``); known for a stream once it
    opened (its first chunk names them), before its response headers leave."""


@dataclass(frozen=True, slots=True)
class TurnParts:
    """What every turn is served with: built once, shared by all turns."""

    chat: ChatCompleter
    tools: ToolLoop | None
    sessions: SessionService
    usage: UsageTracker
    admission: AdmissionPolicy
    cache: TurnCache
    on_store_error: StoreErrorHook
    background: BackgroundTasks
    curfew: Curfew = field(default_factory=Curfew)
    """Ends the model calls still running when a shutdown's grace period is over."""


class ChatTurn:
    """One request's turn; see the module docstring. Drive it once."""

    def __init__(
        self,
        parts: TurnParts,
        request: ChatRequest,
        caller: ChatCaller,
        options: ChatOptions,
        size: RequestSize | None = None,
    ) -> None:
        """``size``: the client's request in its door's terms (else ``request``'s, as chat)."""
        self._size = size
        self._parts = parts
        self._caller = caller
        self._options = options
        tools = parts.tools
        engaged = tools is not None and tools.engages(request, options.offer_all_tools)
        self._tools = tools if engaged else None
        if engaged and request.relay is not None:
            # The loop's rounds are the gateway's to assemble: their events are not relayed.
            request = evolve(request, relay=None)
        self.request = request
        self._full = request
        self._admission: Admission | None = None
        self._session_scope: AbstractAsyncContextManager[SessionTurn] | None = None
        self._session: SessionTurn | None = None
        self._key: str | None = None
        self._progress: StreamAccumulator | None = None
        self.relay_tap: RelayTap | None = None
        """A relayed stream's tap (``relay_tap``), for the door to arm once its head is out."""
        self._transcript: Transcript | None = None
        self._accounted = False
        self._unbooked: UsageEvent | None = None
        """A priced answer's usage, not yet booked (``complete(book_later=True)``)."""
        self._response: ChatResponse | None = None
        self._cache_state: str | None = None
        self._cost = Money.ZERO
        self._tool_result: ToolLoopResult | None = None
        self._aborted = False
        self._upstream_seconds: float | None = None
        self._settling: asyncio.Task[Any] | None = None

    @property
    def outcome(self) -> TurnOutcome:
        result = self._tool_result
        runs = result.tool_runs if result is not None else ()
        admission = self._admission
        progress = self._progress
        if self._response is not None:
            dropped = self._response.dropped_params
        else:
            dropped = progress.dropped_params if progress is not None else ()
        return TurnOutcome(
            response=self._response,
            rate_limit_headers=admission.headers if admission is not None else _NO_HEADERS,
            cache=self._cache_state,
            cost_usd=self._cost,
            tool_runs=runs,
            tool_rounds=max((run.round for run in runs), default=0) if runs else 0,
            notice=result.notice if result is not None else None,
            aborted=self._aborted,
            upstream_seconds=self._upstream_seconds,
            dropped_params=dropped,
        )

    @property
    def settling(self) -> asyncio.Task[Any] | None:
        """The turn's accounting when it runs in the background (a client that left): the
        outcome is final once it is done. ``None``: the outcome is final as it is."""
        return self._settling

    # -- the drivers ------------------------------------------------------------------------

    async def complete(self, *, book_later: bool = False) -> ChatResponse:
        """The answer, priced (``outcome.cost_usd``) and settled.

        ``book_later``: for a door that sends the answer before anything else. When the turn
        has nothing else to settle (no session to commit, no answer to cache), booking its
        usage (the usage store, the budget's spend, the token reservation) waits for
        ``book()``, which the door must await once the answer is out, whatever happened
        meanwhile. None of these are read by the answer; done first, they were a JSON
        answer's last steps before its write."""
        hit = await self._begin()
        exchange: tuple[Message, ...]
        try:
            if hit is None:
                with self._parts.curfew.call():
                    tools = self._tools
                    if tools is None:  # the usual turn: one model call, no frame around it
                        started = time.perf_counter()
                        response = await self._parts.chat.complete(self._full)
                        self._upstream_seconds = time.perf_counter() - started
                        exchange = (response.choices[0].message,)
                    else:
                        response, exchange = await self._call_tools(tools)
                self._hold_to_cap(response)
            else:
                response, exchange = hit, (hit.choices[0].message,)
            await self._settle(response, exchange, book_later=book_later)
        except BaseException as error:
            self._aborted = True
            if isinstance(error, UpstreamTooLargeError) and not self._accounted:
                # The upstream generated (and we read) that much before it was cut, or it
                # answered past the output cap: bill it.
                await self._account(self._response or self._cut_answer(error))
            await self._abandon()
            raise
        return response

    async def open_stream(self) -> AsyncGenerator[ChatChunk, None]:
        """Begin the turn and wait for the model's first chunk (raising what still gets an
        HTTP status); returns the whole stream, that chunk first."""
        hit = await self._begin()
        request = self.request
        progress = self._progress = StreamAccumulator()
        cap = self._parts.admission.output_cap(request.model, request.max_tokens)
        if hit is None and self._tools is None and request.relay is not None:
            # Nothing keeps an answer without a session or a cache entry: its unmodelled
            # fields need only reach the client, and they do, in the relayed bytes.
            keeps = self._session is not None or self._key is not None
            self.relay_tap = RelayTap(progress, cap, extras=keeps)
        chunks = self._relay(hit, progress, cap)
        # The adapter reads the tap when its stream starts, inside this first step.
        token = RELAY_TAP.set(self.relay_tap)
        try:
            first = await anext(chunks, None)
        except BaseException:
            await chunks.aclose()
            raise
        finally:
            RELAY_TAP.reset(token)
        return _Prefixed(first, chunks)

    async def begin_forwarded(self) -> None:
        """Admission for a call the door makes itself: no session, no cache, no tool loop
        (the request is the provider's own format, which the gateway relays as it is)."""
        admission = self._parts.admission
        tokens = estimate_tokens(self.request) if admission.limiter is not None else 0
        self._admission = await admission.admit(
            self._caller, self.request.model, tokens, self._size_of()
        )

    def forwarded_cap(self) -> OutputCap:
        """The output cap a forwarded answer is held to, as a relayed stream is (``_relay``):
        the door counts the vendor's events against it."""
        request = self.request
        return self._parts.admission.output_cap(request.model, request.max_tokens)

    async def end_forwarded(self, response: ChatResponse, *, aborted: bool = False) -> None:
        """Account a forwarded call by the usage the provider reported (once)."""
        self._aborted = self._aborted or aborted
        if not self._accounted:
            await self._account(response)

    def watch_forwarded(self, events: AsyncIterator[T]) -> AsyncGenerator[T, None]:
        """A forwarded stream's events, watched by the shutdown's curfew as a relayed stream
        is (``Curfew.stream``): at the curfew, waiting for the next one ends with
        ``ServerShuttingDownError``."""
        return self._parts.curfew.stream(events)

    def end_forwarded_later(self, response: ChatResponse) -> None:
        """For a forwarded stream the client left: its task may be cancelled, so the turn is
        accounted in the background (drained at shutdown)."""
        self._aborted = True
        self._settling = self._parts.background.run(self.end_forwarded(response, aborted=True))

    async def abandon_forwarded(self) -> None:
        """A forwarded call that produced nothing gives its reservation back."""
        if not self._accounted:
            self._accounted = True
            await self._parts.admission.release(self._admission)

    # -- the steps --------------------------------------------------------------------------

    async def _begin(self) -> ChatResponse | None:
        """Admission, the session's lock and history, the cache lookup; returns a cache hit."""
        parts, request, caller = self._parts, self.request, self._caller
        admission = parts.admission
        tokens = estimate_tokens(request) if admission.limiter is not None else 0
        size = self._size if self._size is not None else chat_size(request)
        self._admission = await admission.admit(caller, request.model, tokens, size)
        try:
            session_id = self._options.session_id
            if session_id is not None:
                scope = parts.sessions.turn(session_id, caller.owner)
                self._session = await scope.__aenter__()
                self._session_scope = scope
                self._full = with_history(request, self._session)
            key = self._key = parts.cache.key_for(
                self._full, caller.key_id, self._options, self._tools is not None
            )
            return None if key is None else await self._cached(key)
        except BaseException:
            await self._abandon()
            raise

    async def _cached(self, key: str) -> ChatResponse | None:
        self._cache_state = "MISS"
        hit = await self._parts.cache.lookup(key, self._options)
        if hit is not None:
            self._cache_state = "HIT"
        return hit

    async def _call_tools(self, tools: ToolLoop) -> tuple[ChatResponse, tuple[Message, ...]]:
        """The model through the tool loop (its rounds and tool calls)."""
        started = time.perf_counter()
        offer_all = self._options.offer_all_tools
        transcript = self._transcript = tools.transcript(self._full, offer_all)
        result = await tools.complete(self._full, offer_all_tools=offer_all, transcript=transcript)
        self._tool_result = result
        self._upstream_seconds = time.perf_counter() - started
        return result.response, result.exchange

    async def _relay(
        self, hit: ChatResponse | None, progress: StreamAccumulator, cap: OutputCap
    ) -> AsyncGenerator[ChatChunk, None]:
        """The stream's chunks as they come, its end held back until the turn is settled.
        Middle chunks the adapter wrote through the ``relay_tap`` are counted there and do
        not come here."""
        tap = self.relay_tap
        settled = False
        held: list[ChatChunk] = []
        try:
            source = replay(hit) if hit is not None else self._model_stream()
            # The curfew's watch inline (``Curfew.stream`` would be one more async generator
            # that every chunk passes through).
            watch = self._parts.curfew.watch_stream()
            started = time.perf_counter()
            try:
                while True:
                    watch.arm()
                    try:
                        chunk = await anext(source)
                    except StopAsyncIteration:
                        break
                    except BaseException as error:
                        if watch.converts(error):
                            raise shutting_down() from None
                        raise
                    finally:
                        watch.disarm()
                    progress.add(chunk)
                    cap.add_chunk(chunk)
                    if chunk.wire is not None:
                        # A relayed stream's end (its finish event and what follows) waits,
                        # as bytes, for the accounting: the door adds the cost to it.
                        if held or _is_end(chunk):
                            if tap is not None:
                                tap.close()  # what follows the end is held too
                            held.append(chunk)
                        else:
                            yield chunk
                    elif chunk.finish_reason is None and chunk.usage is None:
                        yield chunk
                    elif (rest := _without_end(chunk)) is not None:
                        yield rest
            finally:
                watch.close()
                if tap is not None:
                    tap.close()
                await source.aclose()
                if hit is None:
                    self._upstream_seconds = time.perf_counter() - started
            response = progress.response(self.request.model)
            if isinstance(source, ToolLoopStream) and source.result is not None:
                self._tool_result = source.result
                exchange = source.result.exchange
            else:
                exchange = (response.choices[0].message,)
            await self._settle(response, exchange)
            settled = True
        finally:
            if not settled:
                # The request's task may be cancelled by now and could not wait for a store.
                self._aborted = True
                self._settling = self._parts.background.run(self._abandon())
        for chunk in held:
            yield chunk
        choice = response.choices[0]
        yield ChatChunk(
            finish_reason=choice.finish_reason,
            native_finish_reason=choice.native_finish_reason,
            usage=response.usage,
            extra=_chunk_fields(response),
            wire=b"" if held else None,
        )

    def _size_of(self) -> RequestSize:
        return self._size if self._size is not None else chat_size(self.request)

    def _hold_to_cap(self, response: ChatResponse) -> None:
        """A whole answer whose reported output passes the model's output cap (an upstream
        that ignored ``max_tokens``) is refused, as a stream past it is cut; the turn bills it
        as reported (``complete``'s handler reads ``_response``)."""
        request = self.request
        cap = self._parts.admission.output_cap(request.model, request.max_tokens)
        try:
            cap.check(0, response.usage.completion_tokens, response.provider or "")
        except UpstreamTooLargeError:
            self._response = response
            raise

    def _cut_answer(self, error: UpstreamTooLargeError) -> ChatResponse:
        """What an answer cut at the byte cap is billed as: the bytes read, as text."""
        usage = estimate_partial_usage(self._full, error.received_bytes)
        choice = Choice(Message.assistant(None), "length")
        return ChatResponse("", self.request.model, (choice,), usage, provider=error.provider)

    def _model_stream(self) -> AsyncGenerator[ChatChunk, None] | ToolLoopStream:
        if self._tools is None:
            return self._parts.chat.stream(self._full)  # its relay tap says what it keeps
        offer_all = self._options.offer_all_tools
        transcript = self._transcript = self._tools.transcript(self._full, offer_all)
        return self._tools.stream(self._full, offer_all_tools=offer_all, transcript=transcript)

    async def book(self) -> None:
        """Books the usage ``complete(book_later=True)`` priced, once; nothing otherwise."""
        event, self._unbooked = self._unbooked, None
        if event is not None:
            await self._book(event)

    async def _settle(
        self, response: ChatResponse, exchange: tuple[Message, ...], *, book_later: bool = False
    ) -> None:
        """The one order of an answered turn's end: account, commit, cache, leave."""
        session = self._session
        if book_later and session is None and self._cache_state != "MISS":
            self._unbooked = self._price(response)
            return
        await self._account(response)
        if session is not None:
            await session.commit(
                new_messages(self.request, session, exchange),
                usage=response.usage,
                cost_usd=self._cost,
            )
        if self._cache_state == "MISS":
            await self._parts.cache.store(self._key, self._options, response)
        if self._session_scope is not None:
            await self._leave_session()

    async def _account(self, response: ChatResponse) -> None:
        """Record usage and cost, and settle the token reservation. Never raises."""
        await self._book(self._price(response))

    def _price(self, response: ChatResponse) -> UsageEvent:
        """The turn's cost (``outcome.cost_usd``) and the usage event to book."""
        self._accounted = True
        self._response = response
        event = self._parts.usage.event(
            key_id=self._caller.key_id, model=response.model, provider=response.provider,
            usage=response.usage, cache_hit=self._cache_state == "HIT",
        )  # fmt: skip
        self._cost = event.cost_usd
        return event

    async def _book(self, event: UsageEvent) -> None:
        """Append the event, note its spend, settle the reservation. Never raises: a down
        usage store is reported, and the answer it priced stands."""
        parts = self._parts
        try:
            await parts.usage.append(event)
        except StoreUnavailableError as error:
            parts.on_store_error("usage", error)
        parts.admission.note_spend(event.key_id, event.cost_usd)
        parts.admission.settle(self._admission, 0 if event.cached else event.usage.total_tokens)

    async def _abandon(self) -> None:
        """An early end: bill what was produced (once), or give the reservation back; leave
        the session uncommitted."""
        try:
            if self._accounted:
                return
            progress = self._progress
            # A tool loop's completed model calls were reported (and paid), whatever came next.
            spent = self._transcript.spent() if self._transcript is not None else None
            model = self.request.model
            if progress is not None and progress.started and progress.usage != Usage():
                await self._account(progress.response(model, progress.usage))
            elif spent is not None:
                await self._account(spent)
            elif progress is not None and progress.started:
                usage = estimate_partial_usage(self._full, progress.generated_chars())
                await self._account(progress.response(model, usage))
            else:
                self._accounted = True
                await self._parts.admission.release(self._admission)
        finally:
            await self._leave_session()

    async def _leave_session(self) -> None:
        scope, self._session_scope = self._session_scope, None
        if scope is not None:
            await scope.__aexit__(None, None, None)


def _chunk_fields(response: ChatResponse) -> Mapping[str, object]:
    """The top-level fields every chunk of the answer carried (``service_tier``...), for the
    turn's own last chunk."""
    if response.system_fingerprint is None:
        return response.extra
    return {**response.extra, "system_fingerprint": response.system_fingerprint}


def _is_end(chunk: ChatChunk) -> bool:
    """A finish, or a usage report alone (a server may put usage on every content event)."""
    if chunk.finish_reason is not None:
        return True
    return chunk.usage is not None and not (chunk.content or chunk.tool_calls or chunk.role)


def _without_end(chunk: ChatChunk) -> ChatChunk | None:
    """``chunk`` without its finish reason and usage (they go in the turn's last chunk); kept
    when it still carries something (a last refusal piece, the last tokens' logprobs)."""
    rest = evolve(chunk, finish_reason=None, native_finish_reason=None, usage=None)
    if rest.role is not None or rest.content or rest.tool_calls or rest.reasoning_content:
        return rest
    carries = _has_value(rest.delta_extra) or _has_value(rest.choice_extra)
    return rest if carries else None


def _has_value(fields: Mapping[str, object]) -> bool:
    """Whether any field is not null (OpenAI sends ``"logprobs": null`` on every chunk)."""
    return any(value is not None for value in fields.values())


class _Prefixed(AsyncGenerator[ChatChunk, None]):
    """``first``, then ``rest``'s chunks: after the first, each step is ``rest``'s own (its
    ``__anext__`` handed out as it is), not one more generator frame every chunk of a stream
    passes through (a slow stream's chunks each pay every layer, one by one)."""

    __slots__ = ("_first", "_rest")

    def __init__(self, first: ChatChunk | None, rest: AsyncGenerator[ChatChunk, None]) -> None:
        self._first = first
        self._rest = rest

    def __anext__(self) -> Coroutine[Any, Any, ChatChunk]:
        return self.asend(None)

    def asend(self, value: None) -> Coroutine[Any, Any, ChatChunk]:
        first = self._first
        if first is not None:
            self._first = None
            return _ready(first)
        return self._rest.asend(value)

    def athrow(self, *error: Any) -> Coroutine[Any, Any, ChatChunk]:
        self._first = None
        return self._rest.athrow(*error)

    def aclose(self) -> Coroutine[Any, Any, None]:
        self._first = None
        return self._rest.aclose()


async def _ready(chunk: ChatChunk) -> ChatChunk:
    return chunk


def estimate_partial_usage(request: ChatRequest, generated_chars: int) -> Usage:
    """Usage of a stream that ended before the upstream reported any: about 4 chars a token."""
    prompt_chars = sum(len(m.text) for m in request.messages)
    return Usage(prompt_tokens=-(-prompt_chars // 4), completion_tokens=-(-generated_chars // 4))
