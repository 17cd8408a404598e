"""A server-sent-events response whose first event leaves right behind the headers.

Litestar's ``Stream`` sends the headers, then starts an anyio task group (the body in one task,
a listener for the client's disconnect in the other) and only then the first event: on this
path that is a tenth of a millisecond before the first token reaches the client, every time.
Here the first event is taken from the iterator before the headers go out, and both leave in
one write (``direct_body.hold_writes``); then the rest, watched for the client's disconnect by
one small task (``_send_rest``), so a client that leaves still cancels the stream at once (and
its abort is still accounted). Under the gateway's own server protocol (``server_limits``),
which cancels a request's task as soon as its client's connection is lost, the watcher is left
out.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any, cast

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import HTTPResponseBodyEvent, Receive, Scope, Send

from gateway_core.domain.relay_tap import BodyWriter, RelayTap
from gateway_http.direct_body import UVICORN_SEND, body_writer, hold_writes, release_writes
from gateway_http.whole_json import encode_headers

EVENT_STREAM = "text/event-stream"
SERVER_SEND = "gateway.server_send"
"""Scope key: the ``send`` the request observer (``ObservedRequests``) was given. The events
between a stream's first and last go to it directly: the observer's ``send`` acts on the
response's start, its first body bytes and its end only, and every chunk of a slow stream
paid it. (Litestar's ``before_send`` wrapper, with the request id hook, is outside the
observer and still runs per event: about 2% of a slow stream's CPU.)"""


class FinalEvent(bytes):
    """A stream's last bytes: the body ends with them, in the same write (no empty write
    after them). Whatever the iterator would yield after one is not sent."""

    __slots__ = ()


class EventStream(Stream):
    """``text/event-stream`` from an async iterator of already encoded events."""

    def __init__(
        self,
        events: AsyncIterator[bytes],
        *,
        headers: dict[str, str],
        tap: RelayTap | None = None,
    ) -> None:
        """``tap``: a relayed stream's, armed with a direct writer once the first event is
        out (``gateway_core.domain.relay_tap``)."""
        # Stream's own __init__ (a copy of the headers, cookies, merged type encoders) is set
        # directly, as ``WholeJson`` does: every stream's first byte waits on it.
        self.iterator, self.headers, self.status_code = events, headers, 200
        self.media_type, self.encoding, self.background = EVENT_STREAM, "utf-8", None
        self.cookies, self.response_type_encoders = [], {}
        self.tap = tap

    def to_asgi_response(  # type: ignore[override,unused-ignore]
        self,
        app: Any,
        request: Request,
        *,
        headers: dict[str, str] | None = None,
        cookies: Iterable[Cookie] | None = None,
        background: Any = None,
        **_: Any,
    ) -> ASGIResponse:
        if not (headers or cookies or background or self.cookies or self.background):
            # Nothing of Litestar's layers to add: the head encoded once, no ASGIResponse.
            encoded = encode_headers(self.headers)
            encoded.append((b"content-type", _EVENT_STREAM_TYPE))
            return _Events(self.iterator, encoded, self.tap)  # type: ignore[arg-type,return-value]
        merged = {**headers, **self.headers} if headers is not None else self.headers
        response = _FirstEventFirst(
            iterator=self.iterator,  # type: ignore[arg-type]
            headers=merged,
            cookies=itertools.chain(self.cookies, cookies or ()),
            background=self.background or background,
            media_type=EVENT_STREAM,
            status_code=self.status_code,
        )
        response.tap = self.tap
        return response


_EVENT_STREAM_TYPE = f"{EVENT_STREAM}; charset=utf-8".encode()
"""The content type Litestar's ``Stream`` sends for ``text/event-stream``."""


class _FirstEventFirst(ASGIStreamingResponse):
    """The stream through Litestar's ``ASGIStreamingResponse`` (a layer added headers,
    cookies or a background task)."""

    __slots__ = ("tap",)
    tap: RelayTap | None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # EventStream is built from bytes only (encoded events), never str.
        events = cast(AsyncIterator[bytes], aiter(self.iterator))  # type: ignore[arg-type,unused-ignore]
        first = await anext(events, None)
        await _send_head_and_first(scope, self.start_response(send), first, send)
        await _arm_tap_and_send_rest(first, events, self.tap, scope, receive, send)
        await self.after_response()  # as Litestar's: a client that left does not skip it


class _Events:
    """The stream as an ASGI app of its own: the head, the first event, the rest."""

    __slots__ = ("_events", "_headers", "_tap")

    def __init__(
        self,
        events: AsyncIterator[bytes],
        headers: list[tuple[bytes, bytes]],
        tap: RelayTap | None,
    ) -> None:
        self._events, self._headers, self._tap = events, headers, tap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        events = aiter(self._events)
        first = await anext(events, None)
        start = send({"type": "http.response.start", "status": 200, "headers": self._headers})
        await _send_head_and_first(scope, start, first, send)
        await _arm_tap_and_send_rest(first, events, self._tap, scope, receive, send)


async def _send_head_and_first(
    scope: Scope, start: Awaitable[None], first: bytes | None, send: Send
) -> None:
    """``start`` (the head's ``send``, not yet awaited), then ``first``: one write between
    them under uvicorn (``direct_body.hold_writes``), one wake-up for the client."""
    cycle = hold_writes(scope)
    try:
        await start
        if first is not None:
            body: HTTPResponseBodyEvent = {
                "type": "http.response.body", "body": first, "more_body": True
            }
            await send(body)
    finally:
        if cycle is not None:
            release_writes(cycle)


async def _arm_tap_and_send_rest(
    first: bytes | None,
    events: AsyncIterator[bytes],
    tap: RelayTap | None,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """The tap armed (once the first event is out), then the rest, the middle events written
    straight to the connection too where they can be (``direct_body.body_writer``)."""
    write = body_writer(scope) if first is not None else None
    if tap is not None:
        tap.write = write
    watch = UVICORN_SEND not in scope  # under the guarded protocol, a client's exit cancels us
    middle = scope.get(SERVER_SEND, send)
    await _send_rest(events, send, receive, middle, watch=watch, write=write)  # type: ignore[arg-type,unused-ignore]


async def _send_rest(
    events: AsyncIterator[bytes],
    send: Send,
    receive: Receive,
    send_middle: Send | None = None,
    *,
    watch: bool = True,
    write: BodyWriter | None = None,
) -> bool:
    """The events after the first, then the body's end; ``False`` if the client left first.
    ``send_middle``: where the events that do not end the body go (``send`` by default);
    ``write``: tried first for them (``direct_body.body_writer``; when it declines, the event
    takes ``send_middle``).

    A client that leaves stops the stream at once, wherever it waits (most often on the
    upstream's next event), as Litestar's ``send_body`` does with an anyio task group and a
    second task; here one watcher task expires a ``timeout`` scope around the loop, a
    stdlib cancellation scoped to this block, for a fraction of the CPU per stream.
    ``watch=False``: the server cancels the request's task itself when its client leaves
    (``server_limits.GuardedHttpToolsProtocol``), so no watcher is needed (nor its task,
    its scope and their objects, for every stream).
    """
    middle = send if send_middle is None else send_middle
    try:
        if watch:
            async with asyncio.timeout(None) as scope:
                watcher = asyncio.get_running_loop().create_task(_watch(receive, scope))
                try:
                    ended = await _send_all(events, send, middle, write, watcher)
                finally:
                    watcher.cancel()
        else:
            ended = await _send_all(events, send, middle, write)
    except TimeoutError:
        return False
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()  # an abandoned turn is accounted (in the background) from here
    if not ended:
        end: HTTPResponseBodyEvent = {
            "type": "http.response.body", "body": b"", "more_body": False
        }
        await send(end)
    return True


async def _send_all(
    events: AsyncIterator[bytes],
    send: Send,
    middle: Send,
    write: BodyWriter | None = None,
    watcher: asyncio.Task[None] | None = None,
) -> bool:
    """Sends ``events`` until a ``FinalEvent`` ends the body (``True``) or they run out.

    A middle event is written straight to the connection when ``write`` can (the bytes
    uvicorn's ``send`` would write, without its coroutine, its message dict and Litestar's
    ``before_send`` wrapper around it: a translated stream's events, each its own); when it
    declines (the client's flow control, a client gone), ``middle`` does what ``send`` does."""
    async for event in events:
        if type(event) is not FinalEvent:
            if write is None or not write(event):
                await middle({"type": "http.response.body", "body": event, "more_body": True})
            continue
        body: HTTPResponseBodyEvent = {
            "type": "http.response.body", "body": event, "more_body": False
        }
        await send(body)
        if watcher is not None:
            watcher.cancel()  # before any await: the body's end is a disconnect to the watcher
        return True
    return False


async def _watch(receive: Receive, scope: asyncio.Timeout) -> None:
    """Expire ``scope`` (now) when the client disconnects."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.reschedule(asyncio.get_running_loop().time())
            return
