"""The one place the Responses and Messages front doors touch the chat turn's API.

Both doors translate their wire format into a ``ChatRequest`` and back; running the turn
itself (permission, limits, budget, cache, the model call, accounting) is the chat turn's
job, reached only through these functions, so a change of the turn's API is a change here.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway_core.domain.chat import ChatRequest
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


def provider_of(api: ChatApi, model: str) -> str:
    """The provider that serves ``model`` first (raises ``ModelNotFoundError``)."""
    return api.serve.chat.targets(model)[0].provider
