"""The SSE writer's disconnect watch: a client that leaves stops the stream at once, wherever
it waits, and the stream's iterator is closed (so an abandoned turn is accounted)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from gateway_http.sse import FinalEvent, _send_rest


class Client:
    """ASGI ``receive`` and ``send`` of one connection; ``leave()`` disconnects it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Any) -> None:
        self.sent.append(message)

    def leave(self) -> None:
        self._gone.set()


async def test_every_event_then_the_end_when_the_client_stays() -> None:
    client = Client()

    async def events() -> AsyncGenerator[bytes, None]:
        for event in (b"a", b"b"):
            await asyncio.sleep(0)
            yield event

    assert await _send_rest(events(), client.send, client.receive)  # type: ignore[arg-type]
    assert [(m["body"], m["more_body"]) for m in client.sent] == [
        (b"a", True), (b"b", True), (b"", False),
    ]  # fmt: skip


async def test_a_client_that_leaves_stops_a_silent_stream_at_once() -> None:
    client = Client()
    closed = asyncio.Event()

    async def silent_upstream() -> AsyncGenerator[bytes, None]:
        try:
            yield b"first"
            await asyncio.sleep(60)  # the model thinks, for a long time
            yield b"never"
        finally:
            closed.set()

    writer = asyncio.create_task(_send_rest(silent_upstream(), client.send, client.receive))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    client.leave()
    assert await asyncio.wait_for(writer, 1.0) is False
    assert closed.is_set(), "the stream was not closed"
    assert [m["body"] for m in client.sent] == [b"first"], "the end was sent to a gone client"


async def test_a_disconnect_noticed_only_after_the_last_event_ends_the_body_normally() -> None:
    client = Client()
    client.leave()  # already gone, but the stream never waits, so the watcher never runs

    async def events() -> AsyncGenerator[bytes, None]:
        yield b"only"

    assert await _send_rest(events(), client.send, client.receive) is True  # type: ignore[arg-type]
    assert [(m["body"], m["more_body"]) for m in client.sent] == [(b"only", True), (b"", False)]


async def test_a_final_event_ends_the_body_in_its_own_write() -> None:
    client = Client()
    closed = asyncio.Event()

    async def events() -> AsyncGenerator[bytes, None]:
        try:
            yield b"a"
            yield FinalEvent(b"end")
            yield b"never sent"
        finally:
            closed.set()

    assert await _send_rest(events(), client.send, client.receive) is True  # type: ignore[arg-type]
    assert [(m["body"], m["more_body"]) for m in client.sent] == [(b"a", True), (b"end", False)]
    assert closed.is_set()


async def test_middle_events_go_to_the_servers_own_send_the_end_through_the_wrappers() -> None:
    client, server = Client(), Client()

    async def events() -> AsyncGenerator[bytes, None]:
        yield b"a"
        yield b"b"
        yield FinalEvent(b"end")
        yield b"never"

    assert await _send_rest(events(), client.send, client.receive, server.send)  # type: ignore[arg-type]
    assert [(m["body"], m["more_body"]) for m in server.sent] == [(b"a", True), (b"b", True)]
    assert [(m["body"], m["more_body"]) for m in client.sent] == [(b"end", False)]


async def test_under_the_guarded_server_no_watcher_reads_receive() -> None:
    """``watch=False``: the server cancels the request's task when its client leaves, so the
    writer starts no watcher (nothing calls ``receive``), and the end is the final event's."""
    client = Client()
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return await client.receive()

    async def events() -> AsyncGenerator[bytes, None]:
        yield b"a"
        yield FinalEvent(b"end")
        yield b"never"

    assert await _send_rest(events(), client.send, receive, watch=False)  # type: ignore[arg-type]
    assert [(m["body"], m["more_body"]) for m in client.sent] == [(b"a", True), (b"end", False)]
    assert received == 0


async def test_middle_events_are_written_directly_until_the_writer_declines() -> None:
    """``write`` (``direct_body.body_writer``) takes the middle events while it can; one it
    declines (the client's flow control, say) takes the server's ``send``, which waits for
    the client as uvicorn's does; the end always takes the wrappers' ``send``."""
    client, server = Client(), Client()
    written: list[bytes] = []
    declining = {b"c"}

    def write(body: bytes) -> bool:
        if body in declining:
            return False
        written.append(body)
        return True

    async def events() -> AsyncGenerator[bytes, None]:
        for event in (b"a", b"b", b"c", b"d"):
            yield event
        yield FinalEvent(b"end")

    sent = await _send_rest(events(), client.send, client.receive, server.send, write=write)  # type: ignore[arg-type]
    assert sent is True
    assert written == [b"a", b"b", b"d"]
    assert [(m["body"], m["more_body"]) for m in server.sent] == [(b"c", True)]
    assert [(m["body"], m["more_body"]) for m in client.sent] == [(b"end", False)]
