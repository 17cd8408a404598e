"""``gateway_adapters.http1`` against a real socket server that answers however a test says."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from gateway_adapters.http1 import (
    ConnectError,
    ConnectionClosed,
    Http1Client,
    InvalidResponse,
    Target,
    Timeouts,
)

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
"""Reads one request and answers it; returns whether to keep the connection for another."""


def ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    return head + extra + b"content-length: %d\r\n\r\n" % len(body) + body


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


class Server:
    """Counts connections and requests; ``answer`` decides each reply."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.answer: Answer = self.plain
        self.port = 0
        self._server: asyncio.Server | None = None

    async def plain(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        self.requests.append(await read_request(reader))
        writer.write(ok())
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await self.answer(reader, writer):
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    def target(self, **headers: str) -> Target:
        return Target(f"http://127.0.0.1:{self.port}/v1/chat?x=1", headers)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    running = Server()
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def client() -> AsyncIterator[Http1Client]:
    async with Http1Client() as opened:
        yield opened


async def post(client: Http1Client, target: Target, body: bytes = b"{}", **timeouts: float) -> bytes:
    async with client.post(target, body, Timeouts(**timeouts)) as response:
        assert response.status == 200
        return await response.read()


async def test_a_request_is_well_formed_http_1_1_with_the_fixed_headers(
    client: Http1Client, server: Server
) -> None:
    assert await post(client, server.target(Authorization="Bearer k"), b'{"a":1}') == b'{"ok":true}'
    head, body = server.requests[0]
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}" in lines
    assert "Authorization: Bearer k" in lines and "Accept-Encoding: identity" in lines
    assert "content-length: 7" in lines and body == b'{"a":1}'


async def test_sequential_requests_share_one_kept_alive_connection(
    client: Http1Client, server: Server
) -> None:
    for _ in range(5):
        await post(client, server.target())
    assert server.connections == 1 and len(server.requests) == 5


async def test_concurrent_requests_over_a_pool_of_one_wait_for_the_connection(
    server: Server,
) -> None:
    async with Http1Client(pool_size=1) as client:
        answers = await asyncio.gather(*(post(client, server.target()) for _ in range(4)))
    assert answers == [b'{"ok":true}'] * 4 and server.connections == 1


async def test_waiting_for_a_busy_pool_is_bounded_by_the_connect_timeout(server: Server) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.3)
        return await server.plain(reader, writer)

    server.answer = slow
    async with Http1Client(pool_size=1) as client:
        holder = asyncio.create_task(post(client, server.target(), total=5))
        await asyncio.sleep(0.05)  # the only connection is busy
        with pytest.raises(TimeoutError):
            await post(client, server.target(), connect=0.05)
        assert await holder == b'{"ok":true}'


async def test_a_connection_the_server_closed_while_idle_is_never_reused(
    client: Http1Client, server: Server
) -> None:
    async def then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await server.plain(reader, writer)
        return False  # the server closes after answering, without saying so

    server.answer = then_close
    await post(client, server.target())
    await asyncio.sleep(0.05)  # the FIN arrives while the connection is idle
    await post(client, server.target())
    assert server.connections == 2


async def test_connection_close_in_the_response_is_honoured(
    client: Http1Client, server: Server
) -> None:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        server.requests.append(await read_request(reader))
        writer.write(ok(extra=b"connection: close\r\n"))
        await writer.drain()
        await asyncio.sleep(0.2)  # keep the socket open: only the header says "do not reuse"
        return False

    server.answer = closing
    await asyncio.gather(post(client, server.target()), asyncio.sleep(0))
    await post(client, server.target())
    assert server.connections == 2


async def test_a_chunked_stream_arrives_piece_by_piece(client: Http1Client, server: Server) -> None:
    release = asyncio.Event()

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        return True

    server.answer = chunked
    async with client.post(server.target(), b"{}", Timeouts(read=5)) as response:
        pieces = response.iter_chunks()
        assert await anext(pieces) == b"first"  # before the server sent the rest
        release.set()
        assert [piece async for piece in pieces] == [b"second"]
    await post(client, server.target())  # the connection was clean: reused
    assert server.connections == 1


async def test_a_body_that_runs_to_the_end_of_the_connection_is_read_whole(
    client: Http1Client, server: Server
) -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        return False

    server.answer = until_close
    assert await post(client, server.target()) == b"all of it"


async def test_an_interim_100_continue_is_skipped(client: Http1Client, server: Server) -> None:
    async def interim(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final"))
        return True

    server.answer = interim
    assert await post(client, server.target()) == b"final"


async def test_a_response_cut_short_is_connection_closed(client: Http1Client, server: Server) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        return False

    server.answer = cut
    with pytest.raises(ConnectionClosed):
        await post(client, server.target(), total=5)


async def test_bytes_that_are_not_http_are_an_invalid_response(
    client: Http1Client, server: Server
) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await asyncio.sleep(0.2)
        return False

    server.answer = garbage
    with pytest.raises(InvalidResponse):
        await post(client, server.target(), total=5)


async def test_a_silent_server_times_out_and_the_connection_is_not_reused(
    client: Http1Client, server: Server
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        await asyncio.sleep(1)
        return False

    server.answer = silent
    with pytest.raises(TimeoutError):
        await post(client, server.target(), total=0.1)
    with pytest.raises(TimeoutError):
        await post(client, server.target(), read=0.1)
    server.answer = server.plain
    await post(client, server.target())
    assert server.connections == 3


async def test_a_response_abandoned_half_read_closes_its_connection(
    client: Http1Client, server: Server
) -> None:
    async def two_parts(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"0\r\n\r\n")
        return True

    server.answer = two_parts
    async with client.post(server.target(), b"{}", Timeouts(read=5)) as response:
        assert await anext(response.iter_chunks()) == b"a"  # then the caller walks away
    server.answer = server.plain
    await post(client, server.target())
    assert server.connections == 2


async def test_nothing_listening_is_a_connect_error(client: Http1Client, server: Server) -> None:
    await server.stop()
    await asyncio.sleep(0.05)
    with pytest.raises(ConnectError):
        await post(client, Target(f"http://127.0.0.1:{server.port}/", {}), connect=1)


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        Target("http://upstream/v1", {"x-evil": "a\r\nHost: elsewhere"})


@pytest.mark.parametrize("url", ["ftp://upstream/", "http:///path", "upstream/v1"])
def test_only_http_and_https_urls_with_a_host_are_targets(url: str) -> None:
    with pytest.raises(ValueError):
        Target(url, {})


SUPPORT = Path(__file__).resolve().parents[2] / "support"
"""tls-localhost.crt/.key: a self-signed certificate for localhost and 127.0.0.1, for tests
only (made with ``openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=localhost
-addext subjectAltName=DNS:localhost,IP:127.0.0.1``)."""


async def test_https_verifies_the_server_and_reuses_the_tls_connection() -> None:
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(SUPPORT / "tls-localhost.crt", SUPPORT / "tls-localhost.key")
    server = Server()
    tls_server = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=served)
    port = tls_server.sockets[0].getsockname()[1]
    trusting = ssl.create_default_context(cafile=str(SUPPORT / "tls-localhost.crt"))
    try:
        async with Http1Client(ssl_context=trusting) as client:
            for _ in range(3):
                assert await post(client, Target(f"https://localhost:{port}/v1", {})) == b'{"ok":true}'
        assert server.connections == 1
        head, _ = server.requests[0]
        assert f"Host: localhost:{port}".encode() in head
        # The default context trusts the system's authorities only: a self-signed server fails.
        async with Http1Client() as client:
            with pytest.raises(ConnectError):
                await post(client, Target(f"https://localhost:{port}/v1", {}), connect=5)
    finally:
        tls_server.close()
