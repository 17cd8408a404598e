"""The real server process under hostile clients, over raw sockets: oversized and dribbled
heads, never-sending connections, too many connections. Each gets its status (431/408/503)
or a close, the process's memory stays bounded, and well-behaved clients are still served."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import GatewayProcess

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
MAX_CONNECTIONS = 20
MAX_REQUEST_BYTES = 64 * 1024
LIMITS = {
    "LLM_GATEWAY_SERVER_MAX_HEADER_BYTES": str(16 * 1024),
    "LLM_GATEWAY_SERVER_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
    "LLM_GATEWAY_SERVER_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
    "LLM_GATEWAY_SERVER_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "LLM_GATEWAY_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
}
GOOD = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess(LIMITS) as process:
        yield process


def _connect(gateway: GatewayProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _rss_kib(gateway: GatewayProcess) -> int:
    status = Path(f"/proc/{gateway._process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


def _still_serving(gateway: GatewayProcess) -> None:
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=GOOD, timeout=10)
    assert response.status_code == 200, response.text


def test_an_oversized_unfinished_header_is_431_with_memory_bounded(
    gateway: GatewayProcess,
) -> None:
    before = _rss_kib(gateway)
    sockets = []
    for _ in range(10):
        sock = _connect(gateway)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(10 * 16):  # up to 10 MB, 64 KiB at a time, never ending the head
                sock.sendall(b"a" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused part-way: what we want
        sockets.append(sock)
    answers = [_read_all(sock) for sock in sockets]
    for sock in sockets:
        sock.close()
    assert all(_status(answer) == 431 for answer in answers), answers[0][:200]
    assert b'"code":"request_header_fields_too_large"' in answers[0]
    grown = _rss_kib(gateway) - before
    assert grown < 20 * 1024, f"RSS grew by {grown} KiB for 10 refused 10 MB heads"
    _still_serving(gateway)


def test_a_dribbled_header_gets_408_within_the_deadline(gateway: GatewayProcess) -> None:
    sock = _connect(gateway)
    started = time.monotonic()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
    answer = b""
    for byte in b"Host: slowloris.example\r\nX-Slow: " + b"a" * 100:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.05)
        if time.monotonic() - started > HEADER_TIMEOUT + 2:
            break
    answer = _read_all(sock)
    elapsed = time.monotonic() - started
    sock.close()
    assert _status(answer) == 408, answer[:200]
    assert HEADER_TIMEOUT - 0.2 <= elapsed <= HEADER_TIMEOUT + 2


def test_a_dribbled_body_gets_408_within_the_deadline(gateway: GatewayProcess) -> None:
    sock = _connect(gateway)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 1000\r\n\r\n{"
    )
    started = time.monotonic()
    answer = _read_all(sock)
    elapsed = time.monotonic() - started
    sock.close()
    assert _status(answer) == 408, answer[:200]
    assert BODY_TIMEOUT - 0.2 <= elapsed <= BODY_TIMEOUT + 2


def test_a_connection_that_sends_nothing_is_closed(gateway: GatewayProcess) -> None:
    sockets = [_connect(gateway) for _ in range(5)]
    started = time.monotonic()
    answers = [_read_all(sock) for sock in sockets]
    elapsed = time.monotonic() - started
    for sock in sockets:
        sock.close()
    assert answers == [b""] * 5, "closed without an answer: there was no request to answer"
    assert elapsed <= HEADER_TIMEOUT + 2


def test_connections_beyond_the_limit_are_shed_with_503_and_retry_after(
    gateway: GatewayProcess,
) -> None:
    held = [_connect(gateway) for _ in range(MAX_CONNECTIONS)]
    time.sleep(0.2)  # let the server accept them all
    extra = _connect(gateway)
    answer = _read_all(extra)
    extra.close()
    for sock in held:
        sock.close()
    assert _status(answer) == 503, answer[:200]
    assert b"retry-after: 1" in answer.lower()
    time.sleep(0.2)
    _still_serving(gateway)


def test_keep_alive_requests_each_get_their_own_deadline(gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for _ in range(3):
            assert client.post("/v1/chat/completions", json=GOOD).status_code == 200
            time.sleep(HEADER_TIMEOUT / 2)


def _one_answer(sock: socket.socket) -> tuple[int, bytes]:
    """One keep-alive answer (with a content-length): its status and body."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    return _status(head), body


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings"])
def test_the_rest_of_a_body_refused_early_is_not_taken_for_the_next_head(
    gateway: GatewayProcess, path: str
) -> None:
    """An announced body over the cap is refused (413) before it is read; a client that sends
    it anyway, then its next request on the same connection, gets that request served: the
    rest of the refused body is not counted as the next request's head (it once was: 431)."""
    oversized = 4 * MAX_REQUEST_BYTES  # well over the head cap too, and no blank line in it
    with _connect(gateway) as sock:
        head = (f"POST {path} HTTP/1.1\r\nHost: gateway\r\n"
                f"Content-Type: application/json\r\nContent-Length: {oversized}\r\n\r\n")  # fmt: skip
        sock.sendall(head.encode())
        status, body = _one_answer(sock)
        assert status == 413, body
        sock.sendall(b"a" * oversized)
        good = httpx.Request("POST", f"{gateway.url}/v1/chat/completions", json=GOOD)
        lines = ["POST /v1/chat/completions HTTP/1.1", "Host: gateway",
                 "Content-Type: application/json", f"Content-Length: {len(good.content)}"]  # fmt: skip
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + good.content)
        status, body = _one_answer(sock)
        assert status == 200, body
    _still_serving(gateway)
