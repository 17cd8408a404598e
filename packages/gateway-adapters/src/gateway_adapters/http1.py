"""A lean HTTP/1.1 client for the providers' hot path: pooled keep-alive connections, one
request at a time per connection, responses read whole or as a stream of body chunks.

Why not aiohttp: at low load a pooled aiohttp POST to a local server took 0.32-0.35 ms of wall
time against 0.18-0.25 ms for the same bytes written to an ``asyncio.Protocol`` and parsed with
httptools (``uv run python -m bench.transports``); on a gateway that adds about 0.8 ms in
all, that difference is most of what separated the request path from its latency targets.
This client does only what the providers need: POST with a body, no redirects, no cookies, no
compression (it asks for ``identity``), HTTP/1.1 over TCP or TLS, through an HTTP proxy when
its ``ProxyRules`` say so (``outbound_proxy.py``): a CONNECT tunnel for https, the absolute
form of the request line for http. Parsing is
llhttp (through httptools, the parser uvicorn serves with), so framing (Content-Length,
chunked, close-delimited) is not hand-written.

Connections: per origin, idle ones are reused newest first; one that the server closed while
idle is noticed (its ``connection_lost``) and never handed out; one idle longer than
``idle_timeout`` is closed instead. A connection goes back to the pool only after a complete
response that allows keep-alive; a response abandoned half-read closes it.

Errors: ``ConnectError`` (could not connect), ``ConnectionClosed`` (closed before a complete
response), ``InvalidResponse`` (not HTTP), ``ResponseTooLarge`` (past the body cap), and
``TimeoutError`` (a deadline passed: connect, first byte, idle gap or total), all
``OSError`` or ``TimeoutError`` subclasses so that callers map them like any socket failure.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from gateway_adapters.outbound_proxy import Proxy, ProxyRules

_MAX_BUFFERED = 1 << 20
"""Body bytes held for a slow reader before the socket stops being read (back-pressure)."""


class ConnectError(OSError):
    """The connection could not be opened (refused, unresolvable, TLS handshake failed)."""


class ConnectionClosed(OSError):
    """The server closed the connection before the response was complete."""


class InvalidResponse(OSError):
    """The server's bytes are not an HTTP/1.1 response."""


class ResponseTooLarge(OSError):
    """The response body grew past ``Timeouts.max_body_bytes``: the rest is not read.
    ``received``: the body bytes that had arrived (at least the cap)."""

    def __init__(self, limit: int, received: int) -> None:
        super().__init__(f"the response exceeded {limit} bytes")
        self.received = received


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float | None = 10.0
    """Getting a pooled connection or opening one."""
    total: float | None = None
    """The whole exchange, for responses read whole."""
    read: float | None = None
    """The longest silence while waiting for response bytes (streams)."""
    first_byte: float | None = None
    """From sending the request to the response's headers, in all; unset: ``read`` per wait."""
    idle: float | None = None
    """The longest gap between body chunks; unset: ``read``."""
    max_body_bytes: int | None = None
    """A body beyond this many bytes fails with ``ResponseTooLarge`` (and closes the
    connection) instead of being relayed whole; unset: no cap."""


class Target:
    """One URL with its fixed headers, encoded once: what a provider posts to."""

    __slots__ = ("_absolute", "_head", "_headers", "_url", "origin")

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an upstream URL is http:// or https:// with a host")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        self.origin = (parts.hostname, port, tls)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if tls else 80)
        host = parts.hostname if default_port else f"{parts.hostname}:{port}"
        if ":" in parts.hostname:  # an IPv6 literal
            host = f"[{parts.hostname}]" if default_port else f"[{parts.hostname}]:{port}"
        # Keyed case-insensitively, written as given: the last spelling of a name wins.
        fixed = {"host": ("Host", host), "accept-encoding": ("Accept-Encoding", "identity")}
        fixed.update({name.lower(): (name, value) for name, value in headers.items()})
        fixed.pop("content-length", None)
        lines = [f"POST {path} HTTP/1.1"]
        for name, value in fixed.values():
            if any(c in name or c in value for c in "\r\n\0"):
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}")
        self._head = ("\r\n".join(lines) + "\r\ncontent-length: ").encode("latin-1")
        self._headers = "\r\n".join(lines[1:])
        self._url = f"{parts.scheme}://{host}{path}"
        self._absolute: bytes | None = None

    def request(self, body: bytes, proxy_line: bytes | None = None) -> bytes:
        """The request's bytes; ``proxy_line`` (a plain-http proxy's header line, maybe
        empty): in the absolute form a proxy expects."""
        head = self._head
        if proxy_line is not None:
            if self._absolute is None:
                self._absolute = f"POST {self._url} HTTP/1.1\r\n{self._headers}\r\n".encode(
                    "latin-1"
                )
            head = self._absolute + proxy_line + b"content-length: "
        return b"".join((head, str(len(body)).encode(), b"\r\n\r\n", body))


class Response:
    """Status and headers as soon as they arrived; the body with ``read`` or ``iter_chunks``."""

    __slots__ = (
        "_connection", "_deadline", "_left", "_max_bytes", "_read_timeout", "headers", "status"
    )  # fmt: skip

    def __init__(
        self,
        connection: _Connection,
        read_timeout: float | None,
        max_bytes: int | None = None,
        deadline: float | None = None,
    ) -> None:
        self.status = connection.status
        self.headers: dict[str, str] = connection.headers
        """Lowercase names; repeated headers joined with ``", "``."""
        self._connection = connection
        self._read_timeout = read_timeout
        self._max_bytes = max_bytes
        self._left = max_bytes
        """What the cap leaves of the body, over every way of reading it."""
        self._deadline = deadline
        """The loop time by which the whole exchange ends (``Timeouts.total``), if any."""

    async def read(self) -> bytes:
        connection = self._connection
        if connection.complete:  # the usual small answer, whole with its head: no generator
            body = connection.take_body()
            cap = self._max_bytes
            if cap is not None and len(body) > cap:
                connection.close()
                raise ResponseTooLarge(cap, len(body))
            return body
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self.next_read():
            yield chunk

    async def next_read(self) -> bytes:
        """The body's next read (what arrived since the last one); ``b""`` once it ended."""
        connection = self._connection
        while True:
            chunk = connection.take_body()
            if chunk:
                if self._left is not None:
                    self.spend(len(chunk))
                return chunk
            if connection.complete:
                return b""
            await connection.wait(self._wait_timeout())

    def spend(self, size: int) -> None:
        """Counts ``size`` more bytes of the body against the cap (closing the connection and
        raising ``ResponseTooLarge`` past it)."""
        left = self._left
        if left is None:
            return
        left = self._left = left - size
        if left < 0:
            self._connection.close()
            cap = self._max_bytes or 0
            raise ResponseTooLarge(cap, cap - left)

    async def feed_body(self, sink: Callable[[bytes], bool]) -> bool:
        """Hands the body's reads to ``sink`` until it returns ``True`` (stop: ``False`` is
        returned) or the body ends (``True``). While this waits, each read goes to ``sink``
        from the connection's own callback as it arrives, without waking the caller's task:
        a slow stream's chunk then costs no task step and no generator frames. ``sink`` must
        be quick and must not await; what it raises is raised here. The read timeout bounds
        the silence between two reads, as for ``iter_chunks``; the byte cap applies too."""
        connection = self._connection
        feed = _BodyFeed(sink, self)
        while True:
            chunk = connection.take_body()
            if chunk:
                if feed(chunk):
                    return False
                continue
            if connection.complete:
                return True
            connection.feed = feed
            try:
                await connection.wait(self._wait_timeout(), idle=True)
            except Exception:
                if feed.error is None:
                    raise
                # What the feed raised comes first (the byte cap closes the connection).
            finally:
                connection.feed = None
            if feed.error is not None:
                error, feed.error = feed.error, None
                raise error
            if feed.stopped:
                return False

    def _wait_timeout(self) -> float | None:
        # The total is a deadline checked at each wait, not an ``asyncio.timeout`` around the
        # caller's block: a stream may be read by another task than the one that opened it.
        deadline = self._deadline
        if deadline is None:
            return self._read_timeout
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise TimeoutError("the exchange passed its total deadline")
        read = self._read_timeout
        return left if read is None else min(read, left)


class _BodyFeed:
    """``Response.feed_body``'s sink with the response's byte cap, as the connection calls
    it: ``stopped`` once the sink asked to stop, ``error`` what it (or the cap) raised."""

    __slots__ = ("_response", "error", "sink", "stopped")

    def __init__(self, sink: Callable[[bytes], bool], response: Response) -> None:
        self.sink = sink
        self._response = response
        self.stopped = False
        self.error: BaseException | None = None

    def __call__(self, chunk: bytes) -> bool:
        self._response.spend(len(chunk))
        stop = self.sink(chunk)
        if stop:
            self.stopped = True
        return stop


class _Connection(asyncio.Protocol):
    """One connection's protocol and the state of its current exchange."""

    def __init__(self, origin: tuple[str, int, bool]) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.proxy_line: bytes | None = None
        """Through a plain-http proxy: its header line (requests take the absolute form)."""
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._error: OSError | None = None
        self._paused = False
        self.feed: _BodyFeed | None = None
        """While ``Response.feed_body`` waits: the body's reads go to it as they arrive."""
        self._read: list[bytes] = []
        """The body of the read being parsed, for ``feed``."""
        self._last_read = 0.0
        self._clock: Callable[[], float] = time.monotonic
        """The loop's clock (set once connected): ``get_running_loop`` per read costs a
        ``getpid`` system call on Python 3.11."""
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_done = False
        self.complete = False
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._close_delimited = False
        self._keep_alive = False

    # -- the exchange, as the client sees it ------------------------------------------------

    def send(self, request: bytes) -> None:
        self._reset()
        if self.closed or self.transport is None:
            raise ConnectionClosed("the connection is closed")
        self.transport.write(request)

    async def wait(self, timeout: float | None, *, idle: bool = False) -> None:
        """Until more of the response arrives (or the connection fails). ``idle``: reads
        that went to ``feed`` meanwhile restart the ``timeout`` (it bounds the silence)."""
        if self._error is not None:
            raise self._error
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        try:
            if timeout is None:
                await waiter
            else:
                # A plain timer failing the waiter, not an ``asyncio.timeout`` scope: a slow
                # stream waits here once per chunk, and the scope (its cancel and uncancel of
                # the task) cost several times the timer.
                if idle:
                    self._last_read = loop.time()
                    timer = loop.call_later(timeout, self._idle_timeout, waiter, timeout)
                else:
                    timer = loop.call_later(timeout, _time_out, waiter)
                try:
                    await waiter
                except BaseException:
                    if waiter.done() and not waiter.cancelled():
                        waiter.exception()  # cancelled right after it timed out: seen
                    raise
                finally:
                    timer.cancel()
        finally:
            self._waiter = None
        if self._error is not None:
            raise self._error

    def _idle_timeout(self, waiter: asyncio.Future[None], timeout: float) -> None:
        """The fed wait's timer: fails the wait if nothing was read for ``timeout``, else
        sleeps on until ``timeout`` after the last read (one handle per wait, not per read)."""
        if waiter.done():
            return
        loop = asyncio.get_running_loop()
        quiet_until = self._last_read + timeout
        if quiet_until > loop.time():
            handle = loop.call_at(quiet_until, self._idle_timeout, waiter, timeout)
            waiter.add_done_callback(lambda _: handle.cancel())
            return
        _time_out(waiter)

    def _feed_read(self) -> None:
        """The body of the read just parsed, to the feed; it ran dry or stopped: the waiting
        task wakes."""
        pieces = self._read
        if not pieces:
            return
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        feed = self.feed
        if feed is None:  # not while a read is parsed (only its own task unsets it): kept
            self._body.append(body)
            self._buffered += len(body)
            return
        self._last_read = self._clock()
        try:
            stop = feed(body)
        except BaseException as error:  # noqa: BLE001 - raised in the waiting task, not into the parser
            feed.error = error
            stop = True
        if stop:
            self.feed = None
            self._wake()

    def take_body(self) -> bytes:
        if not self._body:
            return b""
        chunk = self._body.popleft() if len(self._body) == 1 else b"".join(self._body)
        self._body.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    @property
    def reusable(self) -> bool:
        return self.complete and not self.closed and self._keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._clock = asyncio.get_running_loop().time

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._feed_read()  # what came before the bad bytes goes first
            self._fail(InvalidResponse("the upstream's response is not valid HTTP/1.1"))
            self.close()
            return
        if self._read:
            self._feed_read()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and self._close_delimited and not self.complete:
            self.complete = True  # the body ran to the end of the connection
            self._wake()
        elif not self.complete:
            self._fail(ConnectionClosed("the upstream closed the connection mid-response"))

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            self.headers = {}  # an interim response: the real one follows
            return
        self.status = status
        self.headers_done = True
        self._keep_alive = self._parser.should_keep_alive()  # only valid until the body starts
        self._close_delimited = (
            "content-length" not in self.headers and "transfer-encoding" not in self.headers
        )
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.feed is not None and not self._body:
            # Fed once the whole read is parsed (``_feed_read``): several events that came in
            # one read (a loaded gateway reads less often) reach the feed, and the client, as
            # one piece.
            self._read.append(body)
            return
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > _MAX_BUFFERED and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.complete = True
            self._wake()

    def _fail(self, error: OSError) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _time_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no data from the upstream within the read timeout"))


class Http1Client:
    """Pooled connections per origin; at most ``pool_size`` per origin at once."""

    def __init__(
        self,
        *,
        pool_size: int = 100,
        idle_timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        proxies: ProxyRules | None = None,
    ) -> None:
        self._pool_size = pool_size
        self._proxies = proxies if proxies is not None and proxies.active else None
        self._idle_timeout = idle_timeout
        self._ssl = ssl_context
        """Made on the first TLS connection when not given: loading the CA store takes ms."""
        self._idle: dict[tuple[str, int, bool], list[_Connection]] = {}
        self._open: dict[tuple[str, int, bool], int] = {}
        self._slots: dict[tuple[str, int, bool], asyncio.Semaphore] = {}
        self._all: set[_Connection] = set()

    @asynccontextmanager
    async def post(
        self, target: Target, body: bytes, timeouts: Timeouts
    ) -> AsyncIterator[Response]:
        """The response once its headers arrived; its body is read inside the block."""
        total = timeouts.total
        deadline = None if total is None else asyncio.get_running_loop().time() + total
        async with asyncio.timeout_at(deadline):  # the opening: connect, send, the head
            connection = await self._acquire(target.origin, timeouts.connect)
            try:
                connection.send(target.request(body, connection.proxy_line))
                if timeouts.first_byte is None:
                    while not connection.headers_done:
                        await connection.wait(timeouts.read)
                else:  # one deadline for all of the head, however it trickles in
                    async with asyncio.timeout(timeouts.first_byte):
                        while not connection.headers_done:
                            await connection.wait(timeouts.read)
            except BaseException:
                connection.close()
                self._release(connection)
                raise
        try:
            idle = timeouts.read if timeouts.idle is None else timeouts.idle
            yield Response(connection, idle, timeouts.max_body_bytes, deadline)
        except BaseException:
            connection.close()
            raise
        finally:
            self._release(connection)

    async def __aenter__(self) -> Http1Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        for connection in list(self._all):
            connection.close()
        self._all.clear()
        self._idle.clear()

    async def _acquire(self, origin: tuple[str, int, bool], timeout: float | None) -> _Connection:
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self._pool_size)
        if slots.locked():  # every connection busy: wait, but not for ever
            async with asyncio.timeout(timeout):
                await slots.acquire()
        else:
            await slots.acquire()  # free now: returns at once, no timer to arm
        try:
            idle = self._idle.get(origin)
            now = time.monotonic()
            while idle:
                connection = idle.pop()
                if not connection.closed and now - connection.idle_since < self._idle_timeout:
                    return connection
                self._discard(connection)
            async with asyncio.timeout(timeout):
                return await self._connect(origin)
        except BaseException:
            slots.release()
            raise

    async def _connect(self, origin: tuple[str, int, bool]) -> _Connection:
        host, port, tls = origin
        loop = asyncio.get_running_loop()
        if tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        context = self._ssl if tls else None
        proxy = self._proxies.for_origin(host, port, tls) if self._proxies is not None else None
        try:
            if proxy is not None and tls:
                connection = await _tunnel(origin, proxy, context)
            elif proxy is not None:
                _, connection = await loop.create_connection(
                    lambda: _Connection(origin), proxy.host, proxy.port
                )
                connection.proxy_line = proxy.header_line()
            else:
                _, connection = await loop.create_connection(
                    lambda: _Connection(origin), host, port,
                    ssl=context, server_hostname=host if tls else None,
                )  # fmt: skip
        except ConnectError:
            raise
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            via = " through the proxy" if proxy is not None else ""
            raise ConnectError(f"could not connect{via} ({type(exc).__name__})") from exc
        self._all.add(connection)
        return connection

    def _release(self, connection: _Connection) -> None:
        self._slots[connection.origin].release()
        if connection.reusable:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.origin, []).append(connection)
        else:
            self._discard(connection)

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._all.discard(connection)


class _TunnelOpening(asyncio.Protocol):
    """A proxy connection until the CONNECT answer's head arrived."""

    def __init__(self) -> None:
        self.head = asyncio.get_running_loop().create_future()
        self._received = b""

    def data_received(self, data: bytes) -> None:
        self._received += data
        if b"\r\n\r\n" in self._received and not self.head.done():
            self.head.set_result(self._received)
        elif len(self._received) > 65536 and not self.head.done():
            self.head.set_exception(InvalidResponse("the proxy's CONNECT answer is too large"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectionClosed("the proxy closed the tunnel"))


async def _tunnel(
    origin: tuple[str, int, bool], proxy: Proxy, context: ssl.SSLContext | None
) -> _Connection:
    """A TLS connection to ``origin`` through a CONNECT tunnel opened on ``proxy``."""
    host, port, _ = origin
    loop = asyncio.get_running_loop()
    transport, opening = await loop.create_connection(_TunnelOpening, proxy.host, proxy.port)
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        transport.write(
            f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n".encode("latin-1")
            + proxy.header_line() + b"\r\n"
        )  # fmt: skip
        head = await opening.head
        status_line = head.split(b"\r\n", 1)[0].split()
        if len(status_line) < 2 or not status_line[1].startswith(b"2"):
            status = status_line[1].decode("latin-1") if len(status_line) > 1 else "?"
            raise ConnectError(f"the proxy refused the tunnel (status {status})")
        connection = _Connection(origin)
        context = context or ssl.create_default_context()
        secure = await loop.start_tls(transport, connection, context, server_hostname=host)
    except BaseException:
        transport.close()
        raise
    if secure is None:
        raise ConnectError("the TLS handshake through the proxy failed")
    connection.connection_made(secure)
    return connection
