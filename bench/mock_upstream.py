"""A mock LLM upstream for the benchmark: OpenAI Chat Completions and Anthropic Messages.

``python -m bench.mock_upstream --port 18090`` serves, on HTTP/1.1 keep-alive connections:

- ``POST /v1/chat/completions``: a chat completion, or an SSE stream (20 content chunks, a
  finish chunk, a usage chunk, ``[DONE]``) when the body holds ``"stream":true``;
- ``POST /v1/messages``: an Anthropic message, or its SSE event sequence when streamed;
- ``GET /health``: 200; ``GET /stats``: ``{"answered": N}``, the POSTs answered so far (the
  harness checks that every request the gateway answered reached the mock, so that a cache in
  front of it can never pass for speed).

It is a bare asyncio ``Protocol`` on uvloop that reads only what it needs (request line,
``content-length``, whether the body asks for a stream) and writes precomputed bytes: it must
serve several times what the gateway does, or the benchmark would measure the mock.
Request bodies must be framed by ``content-length`` (aiohttp, httpx and wrk all do that);
chunked request bodies get a 400 and the connection is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

import uvloop

from bench import mock_wire
from bench.paced_stream import Pace, Pacer

_MAX_BUFFER = 1 << 20
_STREAM_MARKERS = (b'"stream":true', b'"stream": true')
_ROUTES = {
    (b"POST", b"/v1/chat/completions"): (mock_wire.OPENAI_JSON, mock_wire.OPENAI_SSE),
    (b"POST", b"/v1/messages"): (mock_wire.ANTHROPIC_JSON, mock_wire.ANTHROPIC_SSE),
}


class Stats:
    __slots__ = ("answered", "pacer")

    def __init__(self, pacer: Pacer | None = None) -> None:
        self.answered = 0
        self.pacer = pacer
        """Set when streams are paced (``--pace-chunks``): OpenAI streams go through it."""


def _content_length(lowered_head: bytes) -> int | None:
    """The body length; None when the body is framed some other way (chunked)."""
    start = lowered_head.find(b"\r\ncontent-length:")
    if start < 0:
        return None if b"\r\ntransfer-encoding:" in lowered_head else 0
    start += len(b"\r\ncontent-length:")
    end = lowered_head.find(b"\r\n", start)
    return int(lowered_head[start:end if end >= 0 else None])


def answer(head: bytes, body: bytes, stats: Stats) -> bytes:
    """The response to one request, given its head (without the blank line) and body."""
    request_line = head[: head.find(b"\r\n")] if b"\r\n" in head else head
    method, _, rest = request_line.partition(b" ")
    path = rest.partition(b" ")[0].partition(b"?")[0]
    route = _ROUTES.get((method, path))
    if route is not None:
        stats.answered += 1
        streamed = any(marker in body for marker in _STREAM_MARKERS)
        return route[1] if streamed else route[0]
    if method == b"GET" and path == b"/health":
        return mock_wire.HEALTH
    if method == b"GET" and path == b"/stats":
        return mock_wire.json_response(json.dumps({"answered": stats.answered}).encode())
    return mock_wire.NOT_FOUND


class MockUpstreamProtocol(asyncio.Protocol):
    """One client connection; handles pipelined requests in arrival order."""

    __slots__ = ("_buffer", "_stats", "_transport")

    def __init__(self, stats: Stats) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._stats = stats

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while buffer:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = buffer[:head_end]
            lowered = head.lower()
            length = _content_length(lowered)
            if length is None:
                self._close_with(mock_wire.BAD_REQUEST)
                return
            end = head_end + 4 + length
            if len(buffer) < end:
                break
            body = buffer[head_end + 4 : end]
            if self._stats.pacer is not None and _paced(head, body):
                self._stats.answered += 1
                self._stats.pacer.start(self._transport)
            else:
                self._transport.write(answer(head, body, self._stats))
            if b"\r\nconnection: close" in lowered:
                self._transport.close()
                return
            buffer = buffer[end:]
        if len(buffer) > _MAX_BUFFER:
            self._close_with(mock_wire.BAD_REQUEST)
            return
        self._buffer = buffer

    def _close_with(self, response: bytes) -> None:
        self._buffer = b""
        self._transport.write(response)
        self._transport.close()


def _paced(head: bytes, body: bytes) -> bool:
    return head.startswith(b"POST /v1/chat/completions ") and any(
        marker in body for marker in _STREAM_MARKERS
    )


async def serve(host: str, port: int, pace: Pace | None = None) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats(Pacer(pace) if pace is not None else None)
    server = await loop.create_server(
        lambda: MockUpstreamProtocol(stats), host, port, backlog=4096
    )
    print(f"mock upstream listening on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mock_upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--pace-chunks", type=int, default=0,
                        help="pace OpenAI streams: this many content chunks (0: not paced)")
    parser.add_argument("--pace-interval-ms", type=float, default=20.0)
    parser.add_argument("--pace-first-token-ms", type=float, default=0.0)
    args = parser.parse_args()
    pace = None
    if args.pace_chunks > 0:
        pace = Pace(args.pace_chunks, args.pace_interval_ms / 1000,
                    args.pace_first_token_ms / 1000)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port, pace))


if __name__ == "__main__":
    main()
