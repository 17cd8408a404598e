"""The one place the Responses and Messages front doors touch the chat turn's API.

Both doors translate their wire format into a ``ChatRequest`` and back; running the turn
itself (permission, limits, budget, cache, the model call, accounting) is the chat turn's
job, reached only through these functions, so a change of the turn's API is a change here.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway_core.domain.chat import ChatRequest, ChatResponse
from gateway_core.domain.messages import Message
from gateway_core.domain.routing import Target
from gateway_core.domain.usage import Usage
from gateway_core.use_cases.background import run_in_background
from gateway_core.use_cases.rate_limit import Admission
from gateway_core.use_cases.serve_chat import ChatCaller, ChatOptions, ChatOutcome
from gateway_core.use_cases.serve_chat_stream import ChatStream

from gateway_http.caller import ChatApi
from gateway_http.request_record import RequestRecord


async def run_turn(
    api: ChatApi, request: ChatRequest, caller: ChatCaller, record: RequestRecord
) -> ChatOutcome:
    """The whole turn, not streamed; the outcome holds the answer, cost and headers."""
    record.model, record.stream = request.model, False
    outcome = ChatOutcome()
    try:
        await api.serve.complete(request, caller, ChatOptions(), outcome)
    finally:
        record.headers = dict(outcome.rate_limit_headers)
    note(record, outcome)
    return outcome


async def open_turn_stream(
    api: ChatApi, request: ChatRequest, caller: ChatCaller, record: RequestRecord
) -> ChatStream:
    """A streamed turn, opened: what can still fail with a status has failed by now. Iterate
    it for chunks; the last one carries finish_reason and usage, after accounting."""
    record.model, record.stream = request.model, True
    stream = ChatStream(api.serve, request, caller, ChatOptions())
    try:
        await stream.open()
    finally:
        record.headers = dict(stream.outcome.rate_limit_headers)
    return stream


def note(record: RequestRecord, outcome: ChatOutcome) -> None:
    """What the request log line and the metrics read about a turn."""
    response = outcome.response
    if response is not None:
        record.provider = response.provider or None
        record.prompt_tokens = response.usage.prompt_tokens
        record.completion_tokens = response.usage.completion_tokens
        record.cached_tokens = response.usage.cached_tokens
    record.cost_usd = outcome.cost_usd
    record.cache = outcome.cache
    record.tool_rounds = outcome.tool_rounds
    record.aborted = outcome.aborted
    record.upstream_seconds = outcome.upstream_seconds


def turn_headers(outcome: ChatOutcome, *, final: bool = True) -> dict[str, str]:
    headers: dict[str, str] = dict(outcome.rate_limit_headers)
    if final:
        headers["x-gateway-cost-usd"] = f"{outcome.cost_usd:.10f}".rstrip("0").rstrip(".") or "0"
    return headers


def dropped_header(dropped: list[str]) -> Mapping[str, str]:
    """Request fields the translation left out, named for the client (see docs/API.md)."""
    return {"x-gateway-dropped-params": ", ".join(dropped)} if dropped else {}


def route_of(api: ChatApi, model: str) -> Target:
    """Where ``model`` goes first (raises ``ModelNotFoundError``)."""
    return api.serve.chat.targets(model)[0]


def native_target(api: ChatApi, natives: Mapping[str, object], model: str) -> Target | None:
    """Where ``model`` goes when its provider speaks the door's format itself, else ``None``.

    Only the route's primary target is used: a fallback to another format cannot replay a
    native request, and one of the same format is not worth the difference here."""
    target = route_of(api, model)
    return target if target.provider in natives else None


class NativeTurn:
    """The chat turn's controls around a natively forwarded call: permission, rate limit and
    budget before it (``admit``); usage, cost and the token reservation after it
    (``settle``, or ``release`` when it produced nothing)."""

    def __init__(self, api: ChatApi, caller: ChatCaller, record: RequestRecord, *,
                 model: str, prompt_text: str, max_tokens: int | None,
                 stream: bool) -> None:  # fmt: skip
        self._api, self._caller, self._record = api, caller, record
        # Admission estimates tokens from a request; this one stands for the native body.
        self._request = ChatRequest(model, (Message.user(prompt_text),), max_tokens=max_tokens)
        self.outcome = ChatOutcome()
        self._admission: Admission | None = None
        record.model, record.stream = model, stream

    async def admit(self) -> None:
        try:
            self._admission = await self._api.serve.admit(self._request, self._caller, self.outcome)
        finally:
            self._record.headers = dict(self.outcome.rate_limit_headers)

    async def release(self) -> None:
        await self._api.serve.release(self._admission)

    async def settle(self, usage: Usage, model: str, provider: str) -> None:
        response = ChatResponse(id="", model=model, choices=(), usage=usage, provider=provider)
        self.outcome.response = response
        await self._api.serve.account(self._caller, self._admission, response, self.outcome)
        note(self._record, self.outcome)

    def settle_later(self, usage: Usage, model: str, provider: str) -> None:
        """For a stream the client left: its task may be cancelled, so settle in another."""
        self.outcome.aborted = True
        run_in_background(self.settle(usage, model, provider))
