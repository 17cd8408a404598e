"""``http1`` deadlines (first byte, idle gap between chunks) and the body cap, against a real
socket server that stalls or floods as a test says."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway_adapters.http1 import Http1Client, ResponseTooLarge, Timeouts
from gateway_adapters.providers.http_errors import transport_error
from gateway_core.errors import UpstreamResponseError, UpstreamTimeoutError
from tests.unit.adapters.test_http1 import Server, client, ok, read_request, server  # noqa: F401

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def test_a_head_that_never_comes_fails_at_the_first_byte_deadline(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        await asyncio.sleep(5)
        return False

    server.answer = stall
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        async with client.post(server.target(), b"{}", Timeouts(first_byte=0.3, read=10)):
            pass
    assert 0.25 <= time.monotonic() - started < 1.0
    assert isinstance(transport_error(caught.value, "p"), UpstreamTimeoutError)


async def test_a_head_dribbled_under_the_read_timeout_still_meets_the_first_byte_deadline(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    async def dribble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        for byte in ok():
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
        return False

    server.answer = dribble
    with pytest.raises(TimeoutError):
        async with client.post(server.target(), b"{}", Timeouts(first_byte=0.5, read=1.0)):
            pass


async def test_a_stream_that_goes_quiet_fails_at_the_idle_deadline_but_a_slow_one_lives(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    async def slow_then_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(CHUNKED_HEAD)
        for _ in range(4):  # 4 chunks 0.2 s apart: 0.8 s in all, longer than the idle gap
            writer.write(chunk(b"data: x\n\n"))
            await writer.drain()
            await asyncio.sleep(0.2)
        await asyncio.sleep(5)
        return False

    server.answer = slow_then_silent
    received = []
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with client.post(server.target(), b"{}", Timeouts(first_byte=1, idle=0.5)) as response:
            async for piece in response.iter_chunks():
                received.append(piece)
    assert b"".join(received) == b"data: x\n\n" * 4
    assert time.monotonic() - started < 2.0


async def test_a_body_past_the_cap_is_cut_and_mapped(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(CHUNKED_HEAD)
        for _ in range(1000):
            writer.write(chunk(b"x" * 1024))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        return False

    server.answer = flood
    received = 0
    with pytest.raises(ResponseTooLarge) as caught:
        async with client.post(server.target(), b"{}", Timeouts(max_body_bytes=64 * 1024)) as response:
            async for piece in response.iter_chunks():
                received += len(piece)
    assert received <= 64 * 1024
    error = transport_error(caught.value, "p")
    assert isinstance(error, UpstreamResponseError) and "larger than the cap" in error.message


async def test_no_deadline_set_changes_nothing(client: Http1Client, server: Server) -> None:  # noqa: F811
    async with client.post(server.target(), b"{}", Timeouts()) as response:
        assert await response.read() == b'{"ok":true}'


async def test_a_whole_answer_past_the_cap_is_refused_and_its_connection_not_reused(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    # The answer arrives whole with its head (the read that needs no generator), over the cap.
    with pytest.raises(ResponseTooLarge) as caught:
        async with client.post(server.target(), b"{}", Timeouts(max_body_bytes=5)) as response:
            await response.read()
    assert caught.value.received == len(b'{"ok":true}')
    async with client.post(server.target(), b"{}", Timeouts()) as response:
        assert await response.read() == b'{"ok":true}'
    assert server.connections == 2
