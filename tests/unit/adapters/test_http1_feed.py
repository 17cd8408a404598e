"""``Response.feed_body``: a body's reads handed to a sink from the connection's own callback
(no task step per read), against a real socket server that paces, stalls or floods."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway_adapters.http1 import Http1Client, ResponseTooLarge, Timeouts
from tests.unit.adapters.test_http1 import Server, client, post, read_request, server  # noqa: F401
from tests.unit.adapters.test_http1_deadlines import CHUNKED_HEAD, chunk


def paced(pieces: list[bytes], pause: float, then_silence: float = 0.0):  # type: ignore[no-untyped-def]
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(CHUNKED_HEAD)
        for piece in pieces:
            writer.write(chunk(piece))
            await writer.drain()
            await asyncio.sleep(pause)
        if then_silence:
            await asyncio.sleep(then_silence)
            return False
        writer.write(b"0\r\n\r\n")
        return True

    return answer


async def test_reads_reach_the_sink_from_the_connection_not_the_task(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    server.answer = paced([b"a", b"bb", b"ccc", b"dddd"], pause=0.02)
    fed: list[tuple[bytes, bool]] = []

    def sink(piece: bytes) -> bool:
        fed.append((piece, asyncio.current_task() is None))
        return False

    async with client.post(server.target(), b"{}", Timeouts(read=5)) as response:
        assert await response.feed_body(sink) is True  # the body ended
    assert b"".join(piece for piece, _ in fed) == b"abbcccdddd"
    assert sum(from_callback for _, from_callback in fed) >= 3, fed
    await post(client, server.target())  # the connection was clean: reused
    assert server.connections == 1


async def test_the_chunks_of_one_read_reach_the_sink_as_one_piece(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    """A loaded gateway reads less often: the events that came in one read go on (to the
    client too) as one piece, not one call (and one write) each."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(CHUNKED_HEAD + chunk(b"first"))
        await writer.drain()
        await asyncio.sleep(0.05)  # the client is in feed_body by now
        writer.write(chunk(b"a") + chunk(b"bb") + chunk(b"ccc"))  # one segment, three chunks
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(chunk(b"last") + b"0\r\n\r\n")
        return True

    server.answer = answer
    fed: list[bytes] = []

    def sink(piece: bytes) -> bool:
        fed.append(piece)
        return False

    async with client.post(server.target(), b"{}", Timeouts(read=5)) as response:
        assert await response.next_read() == b"first"
        assert await response.feed_body(sink) is True
    assert fed == [b"abbccc", b"last"]


async def test_a_sink_that_stops_gets_the_rest_on_the_next_call_in_order(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    server.answer = paced([b"1", b"2", b"3", b"4", b"5"], pause=0.01)
    fed: list[bytes] = []
    calls = 0

    def sink(piece: bytes) -> bool:
        fed.append(piece)
        return b"2" in piece or b"4" in piece  # reads buffered meanwhile come joined

    async with client.post(server.target(), b"{}", Timeouts(read=5)) as response:
        while not await response.feed_body(sink):
            calls += 1
            await asyncio.sleep(0.03)  # the reads meanwhile are buffered, not lost
    assert b"".join(fed) == b"12345"
    assert calls == 2


async def test_what_the_sink_raises_is_raised_in_the_waiting_task(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    server.answer = paced([b"ok", b"bad", b"never"], pause=0.02)

    def sink(piece: bytes) -> bool:
        if piece == b"bad":
            raise ValueError("a broken event")
        return False

    async with client.post(server.target(), b"{}", Timeouts(read=5)) as response:
        with pytest.raises(ValueError, match="a broken event"):
            await response.feed_body(sink)


async def test_fed_reads_keep_a_slow_stream_alive_and_silence_still_times_out(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    # 5 reads 0.2 s apart (1 s in all, twice the idle gap), then silence.
    server.answer = paced([b"x"] * 5, pause=0.2, then_silence=5)
    fed: list[bytes] = []
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with client.post(server.target(), b"{}", Timeouts(first_byte=1, idle=0.5)) as response:
            await response.feed_body(lambda piece: fed.append(piece) is not None)
    assert b"".join(fed) == b"x" * 5  # 0.8 s of reads outlived the 0.5 s idle gap
    # The silence was ended by the idle deadline (about 1.5 s in), not by the server's 5 s.
    assert time.monotonic() - started < 2.5


class Counted:
    """A sink counting the bytes fed to it; ``stop``: whether it asks to stop after each."""

    def __init__(self, *, stop: bool) -> None:
        self.bytes = 0
        self.stop = stop

    def __call__(self, piece: bytes) -> bool:
        self.bytes += len(piece)
        return self.stop


async def test_the_byte_cap_applies_to_fed_reads(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    server.answer = paced([b"y" * 1024] * 200, pause=0.001)
    sink = Counted(stop=False)
    with pytest.raises(ResponseTooLarge):
        async with client.post(server.target(), b"{}", Timeouts(max_body_bytes=64 * 1024)) as response:
            await response.feed_body(sink)
    assert sink.bytes <= 64 * 1024


async def test_the_byte_cap_counts_every_read_however_the_body_is_read(
    client: Http1Client, server: Server  # noqa: F811
) -> None:
    """Reads taken with ``next_read`` and by feeds that stop and start again all count."""
    server.answer = paced([b"z" * 1024] * 200, pause=0.001)
    sink = Counted(stop=True)  # a new feed after every read
    with pytest.raises(ResponseTooLarge):
        async with client.post(server.target(), b"{}", Timeouts(max_body_bytes=64 * 1024)) as response:
            sink.bytes += len(await response.next_read())
            while not await response.feed_body(sink):
                pass
    assert sink.bytes <= 64 * 1024
