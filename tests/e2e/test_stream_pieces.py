"""What a stream's client receives, write by write: the chunks of the chunked body, read off a
raw socket. The translated doors send what one chat chunk became as one piece (its typed
events together), not one write per event; a native stream its first event alone. Every
piece holds whole events, whatever the grouping."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

from tests.e2e.conftest import VENDOR_MODELS
from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.gateway import GatewayProcess


def _pieces(url: str, path: str, body: dict, headers: dict[str, str]) -> list[bytes]:
    """The body's chunks as the gateway framed them (``transfer-encoding: chunked``)."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    head = "".join(f"{name}: {value}\r\n" for name, value in {
        "host": parts.netloc, "content-type": "application/json",
        "content-length": str(len(payload)), "connection": "close",
        "authorization": "Bearer client-key", **headers,
    }.items())  # fmt: skip
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + payload)
        raw = b""
        while chunk := connection.recv(65536):
            raw += chunk
    status_and_headers, _, rest = raw.partition(b"\r\n\r\n")
    assert status_and_headers.startswith(b"HTTP/1.1 200"), status_and_headers
    assert b"transfer-encoding: chunked" in status_and_headers.lower()
    pieces = []
    while True:
        size, _, rest = rest.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            return pieces
        pieces.append(rest[:length])
        assert rest[length : length + 2] == b"\r\n"
        rest = rest[length + 2 :]


def _names(piece: bytes) -> list[str]:
    assert piece.endswith(b"\n\n"), "a piece ends where an event ends"
    return [event.split(b"\n", 1)[0].removeprefix(b"event: ").decode()
            for event in piece.strip(b"\n").split(b"\n\n")]  # fmt: skip


TEXT = "one two three four five six"


def test_a_translated_responses_stream_sends_each_chunk_as_one_piece(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text=TEXT))
    body = {"model": VENDOR_MODELS["openai"], "input": "hi", "stream": True}
    pieces = _pieces(e2e_gateway.url, "/v1/responses", body, {})
    names = [_names(piece) for piece in pieces]
    assert names[0] == ["response.created", "response.in_progress"], "the start, together"
    flat = [name for piece in names for name in piece]
    assert flat[-1] == "response.completed"
    assert flat.count("response.output_text.delta") >= 2
    # The first text chunk opens the item and its part and carries text: one piece.
    assert ["response.output_item.added", "response.content_part.added",
            "response.output_text.delta"] in names  # fmt: skip
    assert len(pieces) < len(flat)


def _messages_stream(
    gateway: GatewayProcess, fake_upstream: FakeUpstream, model: str
) -> list[list[str]]:
    """The event names of each piece of a ``/v1/messages`` stream to ``model``."""
    fake_upstream.script(Turn(text=TEXT))
    body = {"model": model, "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    pieces = _pieces(gateway.url, "/v1/messages", body, {"anthropic-version": "2023-06-01"})
    return [_names(piece) for piece in pieces]


def test_a_translated_messages_stream_sends_each_chunk_as_one_piece(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    names = _messages_stream(e2e_gateway, fake_upstream, VENDOR_MODELS["openai"])
    flat = [name for piece in names for name in piece]
    assert flat[0] == "message_start" and flat[-1] == "message_stop"
    assert names[-1][-2:] == ["message_delta", "message_stop"], "the end, together"
    assert len(names) < len(flat)


def test_a_native_messages_stream_sends_its_first_event_alone(
    e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    names = _messages_stream(e2e_gateway, fake_upstream, VENDOR_MODELS["anthropic"])
    assert fake_upstream.requests[-1].path == "/v1/messages", "forwarded natively"
    assert names[0] == ["message_start"]
    assert [name for piece in names for name in piece][-1] == "message_stop"
