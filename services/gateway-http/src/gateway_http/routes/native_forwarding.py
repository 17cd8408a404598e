"""Forwarding a front door's request natively (see ``gateway_core.ports.native``), with the
chat turn's controls around it (``turn_adapter.NativeTurn``): shared by both doors.

Errors before the first event are the door's own errors (a status and a body); after it, the
vendor's own events carry them, relayed like the rest. Before the first event, a failed call is
retried or falls back through the route's native groups (``turn_adapter.NativeRoute``) by the
chat calls' own planner (``ServeChat.first_success``): each attempt gets the body for its own
target (``CallFor``). When they all fail retryably, the error propagates and the route may
fall back to its translated path.

The events of one upstream read are relayed as one piece (``NativeStream``), watched by the
shutdown's curfew (``NativeTurn.watch``), and held to the model's output cap
(``NativeTurn.output_cap``: the text the events carried, the output tokens the vendor
reported), as translated streams are. A stream the gateway ends (the grace period is about
to end; it passed the output cap or the byte cap: an upstream ignoring ``max_tokens``) is
closed upstream, ended with the door's own error event in the vendor's shape (``ErrorEvent``,
the door's), and accounted as abandoned with the usage the vendor reported so far, its output
at least what the relayed text comes to. A JSON answer past either cap is the door's 502
``upstream_response_too_large``, billed for what was generated.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from litestar import Response

from gateway_core.domain.routing import Target
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    GatewayError,
    ProviderNotConfiguredError,
    ServerShuttingDownError,
    UpstreamConnectionError,
    UpstreamTooLargeError,
)
from gateway_core.ports.native import NativeCall, NativeFormatProvider, NativeReply, NativeStream
from gateway_http.caller import ChatApi
from gateway_http.sse import EventStream
from gateway_http.turn_adapter import NativeRoute, NativeTurn, turn_headers
from gateway_http.whole_json import WholeJson

log = logging.getLogger("gateway_http.native")

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_Opened = tuple[NativeFormatProvider, NativeStream, AsyncIterator[bytes], bytes]
NATIVE_HEADER = {"x-gateway-route": "native"}
"""Tells a client its request reached a provider of its own format, untranslated."""


CallFor = Callable[[Target], NativeCall]
"""The native request for one target (its provider's model id in the body)."""

ErrorEvent = Callable[[GatewayError, bytes, int], bytes]
"""The door's error event(s), encoded, for a stream the gateway ends itself (the shutdown's
curfew, a cap): from the error, the stream's first event (the Responses API's
``response.created`` names the response) and how many events were relayed (the next
``sequence_number``)."""


@dataclass(frozen=True, slots=True)
class NativeForward:
    """One native forwarding: the door's providers, the route, the bodies, the turn."""

    api: ChatApi
    natives: Mapping[str, NativeFormatProvider]
    route: NativeRoute
    call_for: CallFor
    turn: NativeTurn
    error_event: ErrorEvent

    def provider(self, target: Target) -> NativeFormatProvider:
        native = self.natives.get(target.provider)
        if native is None:  # removed by a reload since the route was read
            raise ProviderNotConfiguredError(
                f"The provider '{target.provider}' is no longer configured.", param="model"
            )
        return native


def translated_fallback(route: NativeRoute, error: GatewayError) -> str | None:
    """The model the translated path takes over with after the native groups failed with
    ``error``; ``None`` when there is none or the error is not retried elsewhere (a 400)."""
    if route.translated_model is None or not error.retryable:
        return None
    log.info("native forwarding failed (%s); falling back to %s, translated",
             error.code, route.translated_model)  # fmt: skip
    return route.translated_model


async def forward(job: NativeForward) -> tuple[bytes, dict[str, str]]:
    """The vendor's JSON answer and the headers to send with it."""
    turn = job.turn
    await turn.admit()

    async def attempt(target: Target) -> tuple[NativeFormatProvider, NativeReply]:
        native = job.provider(target)
        return native, await native.send(job.call_for(target))

    try:
        native, reply = await job.api.serve.first_success(job.route.groups, attempt)
    except UpstreamTooLargeError as error:
        # Past the byte cap: the vendor generated what was read; billed as text, as the chat
        # turn bills an answer cut there.
        usage = turn.generated(Usage(), error.received_bytes)
        await turn.settle(usage, turn.model, error.provider, aborted=True)
        raise
    except BaseException:
        await turn.release()
        raise
    try:
        turn.output_cap().check(0, reply.usage.completion_tokens, native.name)
    except UpstreamTooLargeError:
        # The vendor ignored the output limit: its answer is refused, as a stream is cut.
        await turn.settle(reply.usage, reply.model, native.name, aborted=True)
        raise
    await turn.settle(reply.usage, reply.model, native.name)
    return reply.body, {**turn_headers(turn.outcome), **NATIVE_HEADER}


def json_answer(body: bytes, headers: dict[str, str]) -> Response:
    return WholeJson(body, headers)


async def _opened(native: NativeFormatProvider, call: NativeCall) -> _Opened:
    """The stream with its first event read: what can still fail before the 200."""
    stream = native.stream(call)
    events = aiter(stream)
    try:
        first = await anext(events)
    except BaseException as error:
        await stream.aclose()
        if isinstance(error, StopAsyncIteration):
            raise UpstreamConnectionError(
                f"{native.name} ended the stream before its first event", provider=native.name
            ) from None
        raise
    return native, stream, events, first


async def forward_stream(
    job: NativeForward,
    on_final: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None,
) -> EventStream:
    """The vendor's events, relayed; opened (and its first event read) before the 200."""
    turn = job.turn
    await turn.admit()

    async def attempt(target: Target) -> _Opened:
        return await _opened(job.provider(target), job.call_for(target))

    try:
        native, stream, events, first = await job.api.serve.first_success(
            job.route.groups, attempt
        )
    except BaseException:
        await turn.release()
        raise
    headers = {**_SSE_HEADERS, **turn_headers(turn.outcome, final=False), **NATIVE_HEADER}
    relay = _relay(first, events, stream, native.name, job, on_final)
    return EventStream(relay, headers=headers)


async def _relay(
    first: bytes,
    events: AsyncIterator[bytes],
    stream: NativeStream,
    provider: str,
    job: NativeForward,
    on_final: Callable[[Mapping[str, Any]], Awaitable[None]] | None,
) -> AsyncIterator[bytes]:
    turn = job.turn
    finished = False
    relayed = 1
    cap = turn.output_cap()
    watched = turn.watch(events)
    try:
        yield first
        # Checked as each event is read: the stream ends its piece before the event that
        # passes the cap, which is not relayed.
        stream.cap_output(partial(cap.check, provider=provider))
        async for piece in watched:
            relayed = stream.event_count
            yield piece
        finished = True
    except (ServerShuttingDownError, UpstreamTooLargeError) as error:
        # The gateway ends the stream: the grace period is over (the curfew closed the
        # vendor's stream), or the answer passed the output or byte cap. The vendor's stream
        # is closed first, then the client hears it in its door's words; the turn is
        # accounted as abandoned (``settle_later``).
        turn.failed(error.code)
        log.warning("native stream ended by the gateway: %s", error.code)
        await _close(watched, stream)
        yield job.error_event(error, first, relayed)
    except GatewayError as error:
        # The vendor's connection failed mid-stream: the client's SDK sees the stream end
        # early, as it would from the vendor itself.
        log.warning(
            "native stream failed after it started: %s", error.code, exc_info=error.__cause__
        )
    finally:
        await _close(watched, stream)
        if finished:
            await turn.settle(stream.usage, stream.model, provider)
            if on_final is not None and stream.final is not None:
                await on_final(stream.final)
        else:
            usage = turn.generated(stream.usage, stream.output_chars)
            turn.settle_later(usage, stream.model, provider)


async def _close(watched: AsyncGenerator[bytes, None], stream: NativeStream) -> None:
    """The vendor's connection closed (closing twice is a no-op)."""
    await watched.aclose()
    await stream.aclose()
