"""Anthropic's Messages API: ``POST /v1/messages`` (JSON, or Anthropic's SSE events when
``stream``) and ``POST /v1/messages/count_tokens``. Errors are Anthropic-shaped here.

Auth takes ``x-api-key`` as well as ``Authorization: Bearer``; ``anthropic-version`` and
``anthropic-beta`` are accepted. The route drives the chat turn through ``turn_adapter``.

Routed to Anthropic, a request is forwarded as sent, with the route's retries and same-format
fallbacks; when those fail before the first byte and the route has a fallback of another
format, that fallback serves it, translated. With the gateway's ``session_id`` the request
always takes the translated path (a session's history is chat messages), Anthropic included.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from typing import Any

import msgspec
from litestar import Request, Response

from gateway_adapters.providers.anthropic.messages_passthrough import FORWARDED_HEADERS
from gateway_core.domain.request_caps import RequestSize
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    GatewayError,
    PermissionDeniedError,
    ProviderError,
    ProviderNotConfiguredError,
)
from gateway_core.ports.native import NativeCall
from gateway_core.use_cases.chat_turn import TurnOutcome
from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_http.ids import new_id
from gateway_http.media import require_json
from gateway_http.messages_api.body import decode_messages_body
from gateway_http.messages_api.count import estimate_input_tokens
from gateway_http.messages_api.door import MessagesDoor
from gateway_http.messages_api.errors import ANTHROPIC_EXCEPTION_HANDLERS, stream_error
from gateway_http.messages_api.events import Event, MessagesEvents
from gateway_http.messages_api.output import message_object
from gateway_http.messages_api.request import to_chat_request
from gateway_http.raw_request import header_values, read_body
from gateway_http.request_record import RequestRecord, record_of
from gateway_http.routes.native_forwarding import (
    NativeForward,
    forward,
    forward_stream,
    json_answer,
    translated_fallback,
)
from gateway_http.routes.raw_post import raw_post
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
    route_of,
    run_turn,
    turn_headers,
    turn_options,
)

log = logging.getLogger("gateway_http.messages")

_encode = msgspec.json.Encoder().encode
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
TOKEN_COUNT_HEADER = "x-gateway-token-count"


@raw_post(
    "/v1/messages",
    "messages_door",
    name="create_message",
    exception_handlers=ANTHROPIC_EXCEPTION_HANDLERS,
)
async def create_message(request: Request, door: MessagesDoor) -> Response | EventStream:
    caller = await door.chat.callers.of(request)
    require_json(request)
    body = decode_messages_body(await read_body(request))
    record = record_of(request.scope)
    model = body["model"]
    # A session's history is chat messages: a request in one takes the translated path.
    session_id = body.get("session_id")
    route = native_route(door.chat, door.natives, model) if session_id is None else None
    if route is not None:
        try:
            return await _native(request, door, body, caller, record, route)
        except (ProviderError, ProviderNotConfiguredError) as error:
            fallback = translated_fallback(route, error)
            if fallback is None:
                raise
            model = fallback
    return await _translated(door, body, model, caller, record)


async def _native(
    request: Request,
    door: MessagesDoor,
    body: dict[str, Any],
    caller: ChatCaller,
    record: RequestRecord,
    route: NativeRoute,
) -> Response | EventStream:
    turn = NativeTurn(
        door.chat, caller, record, model=body["model"],
        prompt_text=_encode(body.get("messages")).decode(),
        max_tokens=body["max_tokens"], stream=bool(body.get("stream")), size=_size(body),
    )  # fmt: skip
    job = NativeForward(door.chat, door.natives, route,
                        lambda target: _native_call(request, body, target.model), turn,
                        _native_failure)  # fmt: skip
    if body.get("stream"):
        return await forward_stream(job)
    return json_answer(*await forward(job))


async def _translated(
    door: MessagesDoor, body: dict[str, Any], model: str, caller: ChatCaller, record: RequestRecord
) -> Response | EventStream:
    """Through the chat turn; ``model`` is the client's, or the fallback a failed native
    route fell back to."""
    translation = to_chat_request(body, provider_type(door.chat, door.formats, model))
    chat_request = translation.request
    if model != chat_request.model:
        chat_request = replace(chat_request, model=model)
    options = turn_options(body.get("session_id"))
    size = _size(body)
    message_id = new_id()
    if not body.get("stream"):

        async def whole(outcome: TurnOutcome) -> tuple[bytes, dict[str, str]]:
            message = message_object(outcome.response, message_id)  # type: ignore[arg-type]
            headers = {**turn_headers(outcome), **dropped_header(translation.dropped, outcome)}
            return _encode(message), headers

        answered = await run_turn(door.chat, chat_request, caller, record, options, size)
        return await answer_then_book(answered, whole)
    stream = await open_turn_stream(door.chat, chat_request, caller, record, options, size)
    events = MessagesEvents(message_id, body["model"])
    headers = {**_SSE_HEADERS, **turn_headers(stream.outcome, final=False),
               **dropped_header(translation.dropped)}  # fmt: skip
    return EventStream(_sse(stream, events, record), headers=headers)


def _size(body: dict[str, Any]) -> RequestSize:
    """The request as the caps see it, in the Messages API's own parameter names."""
    messages, tools = body.get("messages") or (), body.get("tools") or ()
    return RequestSize(body["model"], len(messages), len(tools), body["max_tokens"])


def _native_call(request: Request, body: dict[str, Any], model: str) -> NativeCall:
    """The body as sent, for the provider's model id, with the client's Anthropic headers."""
    sent = header_values(request.scope)
    headers = {name: value for name in FORWARDED_HEADERS if (value := sent.get(name)) is not None}
    return NativeCall({**body, "model": model}, headers)


def _native_failure(error: GatewayError, first: bytes, relayed: int) -> bytes:
    """A forwarded stream the gateway ends (the shutdown's curfew): Anthropic's ``error``
    event, as the translated path and the vendor itself send it."""
    return _event(MessagesEvents.error(*stream_error(error)))


def _event(event: Event) -> bytes:
    name, data = event
    return b"event: " + name.encode() + b"\ndata: " + _encode(data) + b"\n\n"


def _events(events: Iterable[Event]) -> bytes:
    """Several events as one piece: one write to the client for what one chunk became."""
    return b"".join(map(_event, events))


async def _sse(
    stream: TurnStream, events: MessagesEvents, record: RequestRecord
) -> AsyncIterator[bytes]:
    try:
        yield _events(events.start())
        async for chunk in stream:
            piece = _events(events.feed(chunk))
            if chunk.finish_reason is not None or chunk.usage is not None:
                piece += _events(events.finish(chunk.finish_reason, chunk.native_finish_reason,
                                               chunk.usage or Usage()))  # fmt: skip
            if piece:
                yield piece
    except GatewayError as error:
        record.error_code = error.code
        log.warning("stream failed after it started: %s", error.code, exc_info=error.__cause__)
        yield _event(MessagesEvents.error(*stream_error(error)))
    except Exception:
        log.exception("stream failed after it started")
        record.error_code = "internal_error"
        yield _event(MessagesEvents.error("api_error", "The gateway failed while streaming."))
    finally:
        note(record, stream.outcome)
        await stream.aclose()


@raw_post(
    "/v1/messages/count_tokens",
    "messages_door",
    name="count_tokens",
    exception_handlers=ANTHROPIC_EXCEPTION_HANDLERS,
)
async def count_tokens(request: Request, door: MessagesDoor) -> Response:
    caller = await door.chat.callers.of(request)
    require_json(request)
    body = decode_messages_body(await read_body(request), counting=True)
    if caller.key is not None and not caller.key.allows_model(body["model"]):
        raise PermissionDeniedError(
            f"This API key may not use the model '{body['model'][:100]}'.", param="model"
        )
    target = route_of(door.chat, body["model"])
    counter = door.token_counters.get(target.provider)
    if counter is not None:
        exact = await counter.count_tokens(_native_call(request, body, target.model))
        return json_answer(exact, {TOKEN_COUNT_HEADER: "exact"})
    counted: dict[str, Any] = {"input_tokens": estimate_input_tokens(body)}
    return Response(content=_encode(counted), media_type="application/json",
                    headers={TOKEN_COUNT_HEADER: "estimate"})  # fmt: skip


MESSAGES_ROUTES = [create_message, count_tokens]
