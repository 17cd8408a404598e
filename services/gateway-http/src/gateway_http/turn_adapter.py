"""The one place the Responses and Messages front doors touch the chat turn's API.

Both doors translate their wire format into a ``ChatRequest`` and back; running the turn
itself (permission, limits, budget, cache, the model call, accounting) is the chat turn's
job (``ChatTurn``), reached only through these functions. The request record follows the
turn (``record.turn``), so the log line and the metrics read its outcome when the request
ends, as they do for chat.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.messages import Message
from gateway_core.domain.request_caps import OutputCap, RequestSize
from gateway_core.domain.routing import DeploymentGroup, Target
from gateway_core.domain.usage import Usage
from gateway_core.ports.native import NativeFormatProvider
from gateway_core.use_cases.chat_turn import ChatTurn, TurnOutcome, estimate_partial_usage
from gateway_core.use_cases.serve_chat import ChatCaller, ChatOptions
from gateway_http.caller import ChatApi
from gateway_http.request_record import RequestRecord
from gateway_http.schemas.completions import COST_HEADER, cost_header_value
from gateway_http.whole_json import WholeJson


def turn_options(session_id: str | None) -> ChatOptions | None:
    """A door's request as the chat turn's options: the gateway's ``session_id`` extension."""
    return ChatOptions(session_id=session_id) if session_id is not None else None


@dataclass(frozen=True, slots=True)
class AnsweredTurn:
    """A whole turn, answered and priced; its usage is booked once the door's answer is out
    (``answer_then_book``; see ``ChatTurn.complete``'s ``book_later``)."""

    outcome: TurnOutcome
    book: Callable[[], Awaitable[None]]


async def run_turn(
    api: ChatApi,
    request: ChatRequest,
    caller: ChatCaller,
    record: RequestRecord,
    options: ChatOptions | None = None,
    size: RequestSize | None = None,
) -> AnsweredTurn:
    """The whole turn, not streamed; the outcome holds the answer, cost and headers. Answer
    with ``answer_then_book``. ``size``: the client's request in the door's terms
    (``RequestSize``), for the caps."""
    record.model, record.stream = request.model, False
    turn = record.turn = api.serve.start(request, caller, options, size=size)
    await turn.complete(book_later=True)
    return AnsweredTurn(turn.outcome, turn.book)


async def answer_then_book(
    answered: AnsweredTurn, answer: Callable[[TurnOutcome], Awaitable[tuple[bytes, dict[str, str]]]]
) -> WholeJson:
    """The door's ``answer`` (its body and headers) to the turn's outcome, sent before the
    turn's usage is booked; booked at once if the answer could not be made."""
    try:
        content, headers = await answer(answered.outcome)
    except BaseException:
        await answered.book()
        raise
    return WholeJson(content, headers, after=answered.book)


class TurnStream:
    """A streamed turn, opened: iterate it for chunks; ``outcome`` is the turn's so far."""

    def __init__(self, turn: ChatTurn, chunks: AsyncGenerator[ChatChunk, None]) -> None:
        self._turn = turn
        self._chunks = chunks

    @property
    def outcome(self) -> TurnOutcome:
        return self._turn.outcome

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()


async def open_turn_stream(
    api: ChatApi,
    request: ChatRequest,
    caller: ChatCaller,
    record: RequestRecord,
    options: ChatOptions | None = None,
    size: RequestSize | None = None,
) -> TurnStream:
    """What can still fail with a status has failed by now. The last chunk carries
    finish_reason and usage, after accounting."""
    record.model, record.stream = request.model, True
    turn = record.turn = api.serve.start(request, caller, options, size=size)
    return TurnStream(turn, await turn.open_stream())


def note(record: RequestRecord, outcome: TurnOutcome) -> None:
    """What the request log line and the metrics read about a turn."""
    record.note(outcome)


def turn_headers(outcome: TurnOutcome, *, final: bool = True) -> dict[str, str]:
    headers: dict[str, str] = dict(outcome.rate_limit_headers)
    if final:
        headers[COST_HEADER] = cost_header_value(outcome.cost_usd)
    return headers


def dropped_header(dropped: list[str], outcome: TurnOutcome | None = None) -> Mapping[str, str]:
    """Request fields the translation left out, and those the provider that answered could
    not take (``outcome``, JSON answers only), named for the client (see docs/API.md)."""
    names = list(dropped)
    if outcome is not None and outcome.response is not None:
        names += [n for n in outcome.response.dropped_params if n not in names]
    return {"x-gateway-dropped-params": ", ".join(names)} if names else {}


def route_of(api: ChatApi, model: str) -> Target:
    """Where ``model`` goes first (raises ``ModelNotFoundError``)."""
    return api.serve.targets(model)[0]




def provider_type(api: ChatApi, formats: Mapping[str, str], model: str) -> str:
    """The type of the provider ``model`` goes to first (``openai`` when not configured:
    the turn then answers 503 naming it)."""
    return formats.get(route_of(api, model).provider, "openai")


@dataclass(frozen=True, slots=True)
class NativeRoute:
    """Where a door forwards natively: the route's leading deployment groups whose every
    deployment speaks the door's format, tried with the chat calls' retries and fallbacks;
    then, when those fail before the first byte, ``translated_model`` (the next fallback's
    model name) through the chat turn, translated."""

    groups: tuple[DeploymentGroup, ...]
    translated_model: str | None


def native_route(
    api: ChatApi, natives: Mapping[str, NativeFormatProvider], model: str
) -> NativeRoute | None:
    """``None`` when the route's primary does not speak the door's format: translated. A
    provider speaks it for the models it ``serves`` (Bedrock and Vertex: Claude models only)."""
    groups = api.serve.groups(model)
    native = 0
    for group in groups:
        if not all(_serves(natives, d.target) for d in group.deployments):
            break
        native += 1
    if native == 0:
        return None
    rest = groups[native:]
    return NativeRoute(groups[:native], rest[0].model if rest else None)


def _serves(natives: Mapping[str, NativeFormatProvider], target: Target) -> bool:
    native = natives.get(target.provider)
    return native is not None and native.serves(target.model)


class NativeTurn:
    """The chat turn around a natively forwarded call: permission, rate limit and budget
    before it (``admit``); the output cap during it (``output_cap``); usage, cost and the
    token reservation after it (``settle``, or ``release`` when it produced nothing)."""

    def __init__(self, api: ChatApi, caller: ChatCaller, record: RequestRecord, *,
                 model: str, prompt_text: str, max_tokens: int | None,
                 stream: bool, size: RequestSize) -> None:  # fmt: skip
        # Admission estimates tokens from a request; this one stands for the native body,
        # whose real size (messages, tools, its output limit) ``size`` gives the caps.
        request = ChatRequest(model, (Message.user(prompt_text),), max_tokens=max_tokens)
        self._turn = record.turn = api.serve.start(request, caller, size=size)
        self._record = record
        self.model = model
        record.model, record.stream = model, stream

    @property
    def outcome(self) -> TurnOutcome:
        return self._turn.outcome

    async def admit(self) -> None:
        await self._turn.begin_forwarded()

    async def release(self) -> None:
        await self._turn.abandon_forwarded()

    def output_cap(self) -> OutputCap:
        """What the answer may generate before the door cuts it (``OutputCap.check``)."""
        return self._turn.forwarded_cap()

    async def settle(
        self, usage: Usage, model: str, provider: str, *, aborted: bool = False
    ) -> None:
        """``aborted``: the answer did not reach the client whole (cut at a cap)."""
        await self._turn.end_forwarded(_response(usage, model, provider), aborted=aborted)

    def settle_later(self, usage: Usage, model: str, provider: str) -> None:
        """For a stream that ended early (the client left, a cap, the curfew, the vendor
        gone): its task may be cancelled, so settle in another."""
        self._turn.end_forwarded_later(_response(usage, model, provider))

    def generated(self, reported: Usage, output_chars: int) -> Usage:
        """What an answer that ended early is billed: the usage the vendor reported so far,
        its output at least the characters relayed at about 4 a token (a vendor may report
        its output only at the end), its prompt estimated if none was reported yet (as the
        chat turn bills a stream cut short, ``estimate_partial_usage``)."""
        estimate = estimate_partial_usage(self._turn.request, output_chars)
        if estimate.completion_tokens <= reported.completion_tokens and reported.prompt_tokens:
            return reported
        return replace(
            reported,
            prompt_tokens=reported.prompt_tokens or estimate.prompt_tokens,
            completion_tokens=max(reported.completion_tokens, estimate.completion_tokens),
        )

    def watch(self, events: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
        """The relayed events, ended by the shutdown's curfew like a translated stream's."""
        return self._turn.watch_forwarded(events)

    def failed(self, code: str) -> None:
        """The stream ended with the gateway's error ``code``, for the request's log line."""
        self._record.error_code = code


def _response(usage: Usage, model: str, provider: str) -> ChatResponse:
    return ChatResponse(id="", model=model, choices=(), usage=usage, provider=provider)
