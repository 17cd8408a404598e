"""Forwarding a front door's request natively (see ``gateway_core.ports.native``), with the
chat turn's controls around it (``turn_adapter.NativeTurn``): shared by both doors.

Errors before the first event are the door's own errors (a status and a body); after it, the
vendor's own events carry them, relayed like the rest.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from litestar import Response

from gateway_core.errors import GatewayError, UpstreamConnectionError
from gateway_core.ports.native import NativeCall, NativeFormatProvider, NativeStream
from gateway_http.sse import EventStream
from gateway_http.turn_adapter import NativeTurn, turn_headers

log = logging.getLogger("gateway_http.native")

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
NATIVE_HEADER = {"x-gateway-route": "native"}
"""Tells a client its request reached a provider of its own format, untranslated."""


async def forward(
    native: NativeFormatProvider, call: NativeCall, turn: NativeTurn
) -> tuple[bytes, dict[str, str]]:
    """The vendor's JSON answer and the headers to send with it."""
    await turn.admit()
    try:
        reply = await native.send(call)
    except BaseException:
        await turn.release()
        raise
    await turn.settle(reply.usage, reply.model, native.name)
    return reply.body, {**turn_headers(turn.outcome), **NATIVE_HEADER}


def json_answer(body: bytes, headers: dict[str, str]) -> Response:
    return Response(content=body, media_type="application/json", headers=headers)


async def forward_stream(
    native: NativeFormatProvider,
    call: NativeCall,
    turn: NativeTurn,
    on_final: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None,
) -> EventStream:
    """The vendor's events, relayed; opened (and its first event read) before the 200."""
    await turn.admit()
    stream = native.stream(call)
    events = aiter(stream)
    try:
        first = await anext(events)
    except BaseException as error:
        await stream.aclose()
        await turn.release()
        if isinstance(error, StopAsyncIteration):
            raise UpstreamConnectionError(
                f"{native.name} ended the stream before its first event", provider=native.name
            ) from None
        raise
    headers = {**_SSE_HEADERS, **turn_headers(turn.outcome, final=False), **NATIVE_HEADER}
    return EventStream(_relay(first, events, stream, native.name, turn, on_final), headers=headers)


async def _relay(
    first: bytes,
    events: AsyncIterator[bytes],
    stream: NativeStream,
    provider: str,
    turn: NativeTurn,
    on_final: Callable[[Mapping[str, Any]], Awaitable[None]] | None,
) -> AsyncIterator[bytes]:
    finished = False
    try:
        yield first
        async for event in events:
            yield event
        finished = True
    except GatewayError as error:
        # The vendor's connection failed mid-stream: the client's SDK sees the stream end
        # early, as it would from the vendor itself.
        log.warning(
            "native stream failed after it started: %s", error.code, exc_info=error.__cause__
        )
        finished = True
    finally:
        await stream.aclose()
        if finished:
            await turn.settle(stream.usage, stream.model, provider)
            if on_final is not None and stream.final is not None:
                await on_final(stream.final)
        else:
            turn.settle_later(stream.usage, stream.model, provider)
