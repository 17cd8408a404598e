"""A response's head goes out in one write with its body (a whole JSON answer) or with its
first event (a stream): one syscall and one segment fewer per response, and a client that
wakes once for them. Run in process under uvicorn with the gateway's protocol; every write
the connection's transport is given is recorded, and a real client reads the result."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from gateway_http.direct_body import hold_writes, release_writes
from gateway_http.server_limits import GuardedHttpToolsProtocol
from gateway_http.sse import _Events
from gateway_http.whole_json import _Send
from tests.support.guarded_server import guarded_server

writes: list[bytes] = []


class _RecordingTransport:
    """The connection's transport, every write recorded."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _RecordingProtocol(GuardedHttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(cast(asyncio.Transport, _RecordingTransport(transport)))


async def _three_events() -> AsyncIterator[bytes]:
    for index in range(3):
        yield b"data: %d\n\n" % index


seen: dict[str, Any] = {}


async def _bad_head(scope: Any, receive: Any, send: Any) -> None:
    """A head uvicorn refuses (a header value with a line break): nothing it held is left."""
    cycle = hold_writes(scope)
    assert cycle is not None
    try:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-bad", b"line\r\nbreak")]})  # fmt: skip
    except RuntimeError:
        seen["raised"] = True
    finally:
        release_writes(cycle)
    seen["transport"] = cycle.transport
    seen["held_again"] = hold_writes(scope)


async def app(scope: Any, receive: Any, send: Any) -> None:
    path = scope["path"]
    if path == "/json":
        headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
        await _Send(200, headers, b'{"ok":true}')(scope, receive, send)
    elif path == "/stream":
        await _Events(_three_events(), [(b"content-type", b"text/event-stream")], None)(
            scope, receive, send
        )
    elif path == "/empty-stream":
        await _Events(_no_events(), [], None)(scope, receive, send)
    else:
        await _bad_head(scope, receive, send)


async def _no_events() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async with guarded_server(app, _RecordingProtocol) as url:
        writes.clear()
        yield url


async def test_a_whole_answer_is_one_write_of_head_and_body(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        first = await client.get("/json")
        second = await client.get("/json")  # the same connection: the cycle's own transport
    assert first.json() == second.json() == {"ok": True}
    assert len(writes) == 2, writes
    head, _, body = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b'{"ok":true}'


async def test_a_closing_answer_is_written_before_the_connection_closes(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/json", headers={"connection": "close"})
    assert response.json() == {"ok": True}
    assert len(writes) == 1 and writes[0].endswith(b'{"ok":true}')
    assert b"connection: close" in writes[0]


async def test_a_stream_head_leaves_with_its_first_event_and_the_rest_after(
    server: str,
) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/stream")
    assert response.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
    head, _, first = writes[0].partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert first == b"9\r\ndata: 0\n\n\r\n"
    assert writes[1:] == [b"9\r\ndata: 1\n\n\r\n", b"9\r\ndata: 2\n\n\r\n", b"0\r\n\r\n"]


async def test_a_stream_without_events_still_sends_its_head(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/empty-stream")
    assert response.status_code == 200 and response.content == b""
    assert writes[0].endswith(b"\r\n\r\n") and writes[1:] == [b"0\r\n\r\n"]


async def test_a_head_that_fails_gives_the_transport_back(server: str) -> None:
    seen.clear()
    async with httpx.AsyncClient(base_url=server) as client:
        with pytest.raises(httpx.RemoteProtocolError):  # no response: uvicorn closes
            await client.get("/bad-head")
    assert seen["raised"]
    assert type(seen["transport"]) is _RecordingTransport, "the cycle kept the holder"
    assert seen["held_again"] is None, "held again after the head was started"
    assert writes == [], "the refused head was written"


def test_another_server_holds_nothing() -> None:
    async def send(message: Any) -> None:
        pass

    assert hold_writes({"gateway.uvicorn_send": send}) is None
    assert hold_writes({}) is None
