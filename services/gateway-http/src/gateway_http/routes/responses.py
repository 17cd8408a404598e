"""The Responses API: ``POST /v1/responses`` (JSON, or typed SSE events when ``stream``),
``GET``/``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items``.

The route drives the chat turn through ``turn_adapter`` and translates with
``responses_api``; with ``store`` (on unless the client says false) the answer and its input
are kept for ``previous_response_id``, by owner like sessions.

Routed to a provider that speaks the Responses API, a request is forwarded as sent, with the
route's retries and same-format fallbacks; when those fail before the first byte and the route
has a fallback of another format, that fallback serves it, translated. The gateway's
``session_id`` (instead of ``previous_response_id``) always takes the translated path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import replace
from typing import Any, Literal

import msgspec
from litestar import Request, Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from gateway_core.domain.request_caps import RequestSize
from gateway_core.domain.routing import Target
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    GatewayError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ProviderNotConfiguredError,
    StoreUnavailableError,
)
from gateway_core.ports.native import NativeCall
from gateway_core.ports.responses import StoredResponse
from gateway_core.use_cases.chat_turn import TurnOutcome
from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_http.errors import gateway_error_payload
from gateway_http.ids import new_id
from gateway_http.media import require_json
from gateway_http.raw_request import read_body
from gateway_http.request_record import RequestRecord, record_of
from gateway_http.responses_api.body import decode_responses_body
from gateway_http.responses_api.conversation import (
    for_replay,
    history_of,
    input_items_page,
    with_ids,
)
from gateway_http.responses_api.door import ResponsesDoor
from gateway_http.responses_api.events import ResponsesEvents, failure_events
from gateway_http.responses_api.output import completed_response
from gateway_http.responses_api.request import input_items, to_chat_request
from gateway_http.routes.native_forwarding import (
    NativeForward,
    forward,
    forward_stream,
    json_answer,
    translated_fallback,
)
from gateway_http.routes.raw_post import app_dependency, raw_post
from gateway_http.sse import EventStream
from gateway_http.turn_adapter import (
    NativeRoute,
    NativeTurn,
    TurnStream,
    answer_then_book,
    dropped_header,
    native_route,
    note,
    open_turn_stream,
    provider_type,
    run_turn,
    turn_headers,
    turn_options,
)

log = logging.getLogger("gateway_http.responses")

_encode = msgspec.json.Encoder().encode
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class ResponseNotFoundError(NotFoundError):
    code = "response_not_found"


@raw_post("/v1/responses", "responses_door", name="create_response")
async def create_response(request: Request, door: ResponsesDoor) -> Response | EventStream:
    caller = await door.chat.callers.of(request)
    require_json(request)
    body = decode_responses_body(await read_body(request))
    session_id = body.get("session_id")
    if session_id is not None and body.get("previous_response_id") is not None:
        raise InvalidRequestError(
            "Send either session_id or previous_response_id: each carries the conversation.",
            param="session_id",
        )
    history = await _history(door, body, caller)
    record = record_of(request.scope)
    own_items = with_ids(input_items(body))
    conversation = [*history, *input_items(body)]
    keep = _Keeper(door, body, caller, own_items, conversation)
    model = body["model"]
    # A session's history is chat messages: a request in one takes the translated path.
    route = native_route(door.chat, door.natives, model) if session_id is None else None
    if route is not None:
        turn = NativeTurn(door.chat, caller, record, model=model,
                          prompt_text=_text_of(body, conversation),
                          max_tokens=body.get("max_output_tokens"),
                          stream=bool(body.get("stream")), size=_size(body))  # fmt: skip
        try:
            return await _native(door, body, conversation if history else None, route, keep, turn)
        except (ProviderError, ProviderNotConfiguredError) as error:
            fallback = translated_fallback(route, error)
            if fallback is None:
                raise
            model = fallback
    return await _translated(door, body, history, model, caller, record, keep)


async def _translated(
    door: ResponsesDoor,
    body: Mapping[str, Any],
    history: list,
    model: str,
    caller: ChatCaller,
    record: RequestRecord,
    keep: _Keeper,
) -> Response | EventStream:
    """Through the chat turn; ``model`` is the client's, or the fallback a failed native
    route fell back to."""
    session_id = body.get("session_id")
    translation = to_chat_request(body, history, provider_type(door.chat, door.formats, model))
    chat_request = translation.request
    if model != chat_request.model:
        chat_request = replace(chat_request, model=model)
    options = turn_options(session_id)
    response_id, created_at = new_id(), int(time.time())
    if not body.get("stream"):

        async def whole(outcome: TurnOutcome) -> tuple[bytes, dict[str, str]]:
            answer = completed_response(body, outcome.response, response_id, created_at)  # type: ignore[arg-type]
            await keep(answer)
            headers = {**turn_headers(outcome), **dropped_header(translation.dropped, outcome)}
            return _encode(answer), headers

        answered = await run_turn(door.chat, chat_request, caller, record, options, _size(body))
        return await answer_then_book(answered, whole)
    stream = await open_turn_stream(door.chat, chat_request, caller, record, options, _size(body))
    events = ResponsesEvents(body, response_id, created_at)
    headers = {**_SSE_HEADERS, **turn_headers(stream.outcome, final=False),
               **dropped_header(translation.dropped)}  # fmt: skip
    return EventStream(_sse(stream, events, keep, record), headers=headers)


async def _native(
    door: ResponsesDoor,
    body: Mapping[str, Any],
    conversation: list | None,
    route: NativeRoute,
    keep: _Keeper,
    turn: NativeTurn,
) -> Response | EventStream:
    """Forward to a provider that speaks the Responses API: the body as sent, but for the
    provider's model id and a stored conversation in place of ``previous_response_id``."""
    upstream = {k: v for k, v in body.items() if k != "previous_response_id"}
    if conversation is not None:
        upstream["input"] = for_replay(conversation)

    def call_for(target: Target) -> NativeCall:
        return NativeCall({**upstream, "model": target.model})

    job = NativeForward(door.chat, door.natives, route, call_for, turn, _native_failure)
    if body.get("stream"):
        return await forward_stream(job, keep)
    answer, headers = await forward(job)
    await keep(msgspec.json.decode(answer))
    return json_answer(answer, headers)


def _native_failure(error: GatewayError, first: bytes, relayed: int) -> bytes:
    """A forwarded stream the gateway ends (the shutdown's curfew): ``error`` then
    ``response.failed``, as the translated path sends them, with the vendor's response (its
    first event, ``response.created``) and numbered after the vendor's events."""
    _, payload, _ = gateway_error_payload(error)
    created = _data_of(first)
    snapshot = created.get("response") if created is not None else None
    if not isinstance(snapshot, dict):
        snapshot = {"object": "response"}
    events = failure_events(snapshot, error.code, payload["error"]["message"], relayed)
    return b"".join(_event(event) for event in events)


def _data_of(event: bytes) -> dict[str, Any] | None:
    """An encoded SSE event's JSON data (``None`` when it is not a JSON object)."""
    data = b"\n".join(line[6:] for line in event.split(b"\n") if line.startswith(b"data: "))
    try:
        decoded = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _size(body: Mapping[str, Any]) -> RequestSize:
    """The request as the caps see it, in the Responses API's own parameter names: its own
    ``input`` items (a stored conversation it continues is the gateway's, not counted)."""
    given = body.get("input")
    items = len(given) if isinstance(given, list) else 1
    return RequestSize(
        body["model"], items, len(body.get("tools") or ()), body.get("max_output_tokens"),
        items_param="input", output_param="max_output_tokens",
    )  # fmt: skip


def _text_of(body: Mapping[str, Any], conversation: list) -> str:
    """What the rate limiter's token estimate reads for a native request."""
    return (body.get("instructions") or "") + _encode(conversation).decode()


async def _history(door: ResponsesDoor, body: Mapping[str, Any], caller: ChatCaller) -> list:
    previous = body.get("previous_response_id")
    if previous is None:
        return []
    stored = await door.store.get(previous, caller.owner)
    if stored is None:
        raise ResponseNotFoundError(
            f"No response '{previous[:100]}' is stored for this key (it may have expired).",
            param="previous_response_id",
        )
    return history_of(stored)


async def _keep(
    door: ResponsesDoor,
    body: Mapping[str, Any],
    caller: ChatCaller,
    answer: Mapping[str, Any],
    own_items: list[dict[str, Any]],
    conversation: list,
) -> None:
    if body.get("store") is False:
        return
    stored = StoredResponse(answer["id"], caller.owner, answer, own_items, conversation)
    try:
        await door.store.put(stored, door.ttl_seconds)
    except StoreUnavailableError as error:
        # The answer is paid for and reaches the client; only its continuation is lost.
        log.warning(
            "the response store is unavailable; %s was not stored (%s)", answer["id"], error.code
        )


class _Keeper:
    """Stores a streamed answer once its last event is known."""

    def __init__(self, door: ResponsesDoor, body: Mapping[str, Any], caller: ChatCaller,
                 own_items: list[dict[str, Any]], conversation: list) -> None:  # fmt: skip
        self.args = (door, body, caller)
        self.items = (own_items, conversation)

    async def __call__(self, answer: Mapping[str, Any]) -> None:
        door, body, caller = self.args
        await _keep(door, body, caller, answer, *self.items)


def _event(event: dict[str, Any]) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + _encode(event) + b"\n\n"


def _events(events: Iterable[dict[str, Any]]) -> bytes:
    """Several events as one piece: one write to the client for what one chunk became."""
    return b"".join(map(_event, events))


async def _sse(
    stream: TurnStream, events: ResponsesEvents, keep: _Keeper, record: RequestRecord
) -> AsyncIterator[bytes]:
    try:
        yield _events(events.start())
        async for chunk in stream:
            piece = _events(events.feed(chunk))
            if chunk.finish_reason is not None or chunk.usage is not None:
                final = events.finish(chunk.finish_reason, chunk.usage or Usage())
                if piece:
                    yield piece
                # Stored before the client reads response.completed, which it may continue
                # from at once (previous_response_id).
                await keep(events.final)  # type: ignore[arg-type]
                piece = _events(final)
            if piece:
                yield piece
    except GatewayError as error:
        _, payload, _ = gateway_error_payload(error)
        record.error_code = error.code
        log.warning("stream failed after it started: %s", error.code, exc_info=error.__cause__)
        for event in events.failed(error.code, payload["error"]["message"]):
            yield _event(event)
    except Exception:
        log.exception("stream failed after it started")
        record.error_code = "internal_error"
        for event in events.failed("internal_error", "The gateway failed while streaming."):
            yield _event(event)
    finally:
        note(record, stream.outcome)
        await stream.aclose()


async def _stored(door: ResponsesDoor, caller: ChatCaller, response_id: str) -> StoredResponse:
    stored = await door.store.get(response_id, caller.owner)
    if stored is None:
        raise ResponseNotFoundError(f"No response '{response_id[:100]}' is stored for this key.")
    return stored


@get("/v1/responses/{response_id:str}")
async def read_response(
    request: Request, caller: NamedDependency[ChatCaller], response_id: FromPath[str]
) -> Response:
    responses_door: ResponsesDoor = await app_dependency(request, "responses_door")
    stored = await _stored(responses_door, caller, response_id)
    return Response(content=_encode(stored.response), media_type="application/json")


@delete("/v1/responses/{response_id:str}", status_code=200)
async def delete_response(
    request: Request, caller: NamedDependency[ChatCaller], response_id: FromPath[str]
) -> Response:
    responses_door: ResponsesDoor = await app_dependency(request, "responses_door")
    if not await responses_door.store.delete(response_id, caller.owner):
        raise ResponseNotFoundError(f"No response '{response_id[:100]}' is stored for this key.")
    body = {"id": response_id, "object": "response", "deleted": True}
    return Response(content=_encode(body), media_type="application/json")


@get("/v1/responses/{response_id:str}/input_items")
async def list_input_items(
    request: Request,
    caller: NamedDependency[ChatCaller],
    response_id: FromPath[str],
    order: FromQuery[Literal["asc", "desc"]] = "desc",
    limit: FromQuery[int] = 20,
    after: FromQuery[str | None] = None,
) -> Response:
    responses_door: ResponsesDoor = await app_dependency(request, "responses_door")
    stored = await _stored(responses_door, caller, response_id)
    page = input_items_page(
        stored.input_items, order=order, limit=max(1, min(limit, 100)), after=after
    )
    return Response(content=_encode(page), media_type="application/json")


RESPONSES_ROUTES = [create_response, read_response, delete_response, list_input_items]
