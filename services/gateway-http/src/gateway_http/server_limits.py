"""The HTTP server's defences against hostile clients, on top of uvicorn's httptools protocol.

uvicorn bounds keep-alive idleness (``timeout_keep_alive``) and can shed by concurrency, but
with httptools it has no limit on header size and no deadline for receiving a request: a
client dribbling a header at one byte a second, or opening connections and sending nothing,
holds them (and the memory of an unfinished header) for ever. This protocol adds, per worker:

- ``max_header_bytes``: a request head (request line and headers) larger than this is answered
  ``431`` and the connection closed, before the parser buffers more of it;
- ``header_timeout``: the head must arrive within this many seconds of the connection opening
  (or of the previous response ending); otherwise ``408`` and close (a connection that sent
  nothing at all is closed without an answer);
- ``body_timeout``: the body must arrive within this many seconds of the head: ``408``, close;
  a request answered before its body was in (``413`` on the announced length) keeps its
  connection: the rest of its body is read and dropped within that deadline, and the next
  request's head is counted from the byte after it;
- ``max_connections``: a connection beyond this many open ones is answered ``503`` with
  ``Retry-After`` and closed at once, before it costs a parser or a buffer.

Timers are ``loop.call_at`` handles, one per connection at a time: no task, no polling. The
deadline itself is a number that each phase moves; the handle is only re-made when a deadline
comes earlier than it fires, and when it fires early it sleeps on to the current deadline. A
keep-alive connection's requests therefore cost two float stores each, not two timer handles
(creating and cancelling a handle per phase was about 2% of a JSON request's CPU).

It also ends the work of a client that went away. uvicorn notices a lost connection
(``connection_lost``) but tells the app only through ``receive()``, which a handler waiting
on an upstream or a tool never calls: the upstream call ran on until its own timeout. Here the
request's task is cancelled as soon as its connection is lost before the response completed
(before the first byte, during a JSON request, during a tool call, mid-stream), so the
upstream call and the tool calls are cancelled with it and the turn is accounted as
abandoned. That costs no task and no polling: the protocol already knows, and the request's
task is noted by one coroutine frame around the app. The cancellation is the client's
doing, not a failure: it is not reported as an exception in the ASGI application.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway_http.direct_body import UVICORN_SEND
from gateway_http.settings import Settings

_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 1000
    retry_after_seconds: int = 1


def limits_from_settings(settings: Settings) -> ServerLimits:
    return ServerLimits(
        max_header_bytes=settings.server_max_header_bytes,
        header_timeout=settings.server_header_timeout_seconds,
        body_timeout=settings.server_body_timeout_seconds,
        max_connections=settings.server_max_connections,
    )


def _answer(status: int, reason: str, message: str, extra: str = "") -> bytes:
    """A complete, closing HTTP/1.1 answer with an OpenAI-shaped error body."""
    code = reason.lower().replace(" ", "_")
    body = (
        f'{{"error":{{"message":"{message}","type":"invalid_request_error",'
        f'"code":"{code}","param":null}}}}'
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``ServerLimits`` enforced (see the module docstring).

    uvicorn builds one per connection from an import string, in each worker process, so the
    limits are read from the settings once per process, on the first connection."""

    _limits: ServerLimits | None = None

    @classmethod
    def configure(cls, limits: ServerLimits | None) -> None:
        """Fix the limits (tests); ``None``: read them from the settings again."""
        cls._limits = limits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if GuardedHttpToolsProtocol._limits is None:
            GuardedHttpToolsProtocol._limits = limits_from_settings(Settings())
        self.limits = GuardedHttpToolsProtocol._limits
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._bytes_this_request = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._app = self.app
        self.app = self._run_request
        self._request_task: asyncio.Task[None] | None = None
        self._hung_up: asyncio.Task[None] | None = None
        self._deadline_at: float | None = None
        """When the current phase must be over (loop time); ``None``: no deadline now."""
        self._head_after_body = False
        """Its response is complete but its body is not: the next head begins after the body."""

    # -- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        limits = self.limits
        if len(self.connections) >= limits.max_connections:
            self.transport = transport
            transport.write(
                _answer(503, "Service Unavailable", "The server is at its connection limit.",
                        f"retry-after: {limits.retry_after_seconds}\r\n")
            )  # fmt: skip
            transport.close()
            return
        super().connection_made(transport)
        self._arm(limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._drop_timer()
        # ``self.app`` is a method of this protocol: a reference cycle that kept every closed
        # connection (its buffers, parser and last request) until a full collection.
        self.app = self._app
        if self.flow is None:  # shed in connection_made: uvicorn never saw it
            return
        super().connection_lost(exc)
        task, cycle = self._request_task, self.cycle
        if task is not None and not task.done() and (cycle is None or cycle.disconnected):
            # The client is gone before its response completed: its work ends now.
            self._hung_up = task
            task.cancel()

    async def _run_request(self, scope: Any, receive: Any, send: Any) -> None:
        """The app, in the request's task, noted so that ``connection_lost`` can cancel it."""
        task = asyncio.current_task()
        self._request_task = task
        scope[UVICORN_SEND] = send  # for a relayed stream's direct writes (``direct_body``)
        try:
            await self._app(scope, receive, send)
        except asyncio.CancelledError:
            # Cancelled because the client left (and by nothing else): done, not failed.
            if self._hung_up is not task or task is None or task.uncancel() > 0:
                raise
        finally:
            # uvicorn's cycle (``send``'s owner) holds the scope: not a reference cycle left
            # for the cycle collector once the request is done.
            scope.pop(UVICORN_SEND, None)
            if self._request_task is task:
                self._request_task = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            within = self._head_bytes + len(data)
            if within <= self.limits.max_header_bytes:
                # Within the cap even if all of it were head (the usual request, whole in
                # one read): no search for the head's end, no copy. Counting body bytes too
                # is harmless: once the head ended, nothing more is counted.
                self._head_bytes = within
                self._head_tail = (self._head_tail + data[-3:])[-3:]
            elif self._head_too_large(data):
                self._refuse(_answer(431, "Request Header Fields Too Large",
                                     "The request's headers are too large."))  # fmt: skip
                return
        self._bytes_this_request += len(data)
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.more_body:
            # Answered before its body was in (a 413 on the announced length, say): what the
            # client still sends is that body, read and dropped by the parser under the body's
            # deadline, not the next request's head (counted as one, it was refused with 431).
            self._head_after_body = True
        else:
            self._next_head()

    def _next_head(self) -> None:
        """Keep-alive: the next head is counted from its first byte and gets its own deadline."""
        self._in_head, self._head_bytes, self._head_tail = True, 0, b""
        self._bytes_this_request = 0
        self._arm(self.limits.header_timeout)

    # -- parser callbacks ---------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._deadline_at = None  # disarmed: the handle, if any, finds no deadline when it fires
        super().on_message_complete()
        if self._head_after_body:
            self._head_after_body = False
            self._next_head()

    # -- limits -------------------------------------------------------------------------------

    def _head_too_large(self, data: bytes) -> bool:
        """True once more than ``max_header_bytes`` arrived without the blank line ending the
        head (the body may follow in the same chunk: only bytes before that line count)."""
        window = self._head_tail + data
        end = window.find(_HEAD_END)
        counted = len(data) if end == -1 else end + len(_HEAD_END) - len(self._head_tail)
        self._head_bytes += counted
        self._head_tail = window[-3:]
        return self._head_bytes > self.limits.max_header_bytes

    def _arm(self, seconds: float) -> None:
        at = self.loop.time() + seconds
        self._deadline_at = at
        handle = self._deadline
        if handle is None or handle.when() > at:  # a handle firing early is fine, late is not
            if handle is not None:
                handle.cancel()
            self._deadline = self.loop.call_at(at, self._deadline_due)

    def _drop_timer(self) -> None:
        self._deadline_at = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_due(self) -> None:
        self._deadline = None
        at = self._deadline_at
        if at is None:
            return
        if at > self.loop.time():  # the phase moved on since the handle was made
            self._deadline = self.loop.call_at(at, self._deadline_due)
            return
        self._deadline_at = None
        if self.transport.is_closing():
            return
        if self._bytes_this_request == 0 and self._in_head:
            self.transport.close()  # sent nothing: nobody to answer
            return
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
            return
        self._refuse(_answer(408, "Request Timeout", "The request did not arrive in time."))

    def _refuse(self, answer: bytes) -> None:
        self._drop_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.response_started = True  # the app must not write after our answer
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(answer)
        self.transport.close()
