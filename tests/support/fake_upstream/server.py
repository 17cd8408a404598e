from __future__ import annotations

import asyncio
import enum
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


class Fault(enum.Enum):
    RATE_LIMITED = "rate_limited"  # 429 with retry-after: 7
    SERVER_ERROR = "server_error"  # 500
    OVERLOADED = "overloaded"  # 529 (Anthropic's), 503 elsewhere
    UNAUTHORIZED = "unauthorized"  # 401: the gateway's key is wrong
    BAD_REQUEST = "bad_request"  # 400 with the vendor's error body
    HANG = "hang"  # accept the request, never answer
    DROP_MID_STREAM = "drop_mid_stream"  # send part of a stream, then cut the connection
    MALFORMED_JSON = "malformed_json"  # 200 with a body that is not JSON
    QUOTES_CREDENTIALS = "quotes_credentials"  # 400 whose message quotes the key it was sent


RETRY_AFTER_SECONDS = 7


@dataclass(frozen=True)
class Turn:
    """What the next model call answers. ``finish`` overrides the vendor-native stop reason."""

    text: str | None = "Hello from the fake upstream."
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    finish: str | None = None
    prompt_tokens: int = 11
    completion_tokens: int = 7
    cached_tokens: int = 0
    fault: Fault | None = None
    model: str | None = None
    headers: tuple[tuple[str, str], ...] | None = None
    """An HTTP fault's headers (OpenAI dialect); ``None``: ``retry-after: 7`` on a 429."""
    stalls_mid_stream: bool = False
    """OpenAI chat, Responses and Anthropic Messages dialects, streamed: the first events
    (the first text included), then nothing until the gateway hangs up
    (a slow model); ``FakeUpstream.hangups`` records when."""
    floods: bool = False
    """Anthropic Messages (Bedrock's and Vertex's Claude too) and Responses dialects, streamed:
    ignores ``max_tokens`` and streams text deltas (``flood``) until the gateway hangs up;
    ``FakeUpstream.hangups`` records when."""
    quote_credentials: bool = False
    """With an HTTP fault: the error message quotes the credentials the request came with,
    as some vendors' messages do (the gateway must never pass them on)."""

    reasoning: str | None = None  # OpenAI-compatible ``reasoning_content`` (DeepSeek, vLLM)
    refusal: str | None = None
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0  # Anthropic's cache_creation_input_tokens
    message_fields: tuple[tuple[str, Any], ...] = ()  # more message fields, e.g. unknown ones


def quoted_credentials(headers: Any) -> str:
    """The request's credentials as a careless vendor message would quote them."""
    sent = headers.get("authorization") or f"x-api-key: {headers.get('x-api-key', '')}"
    return f"Invalid credentials in your request ({sent}); check your key."


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = 0.0
    """``time.monotonic()`` on arrival: the spacing of retries."""


FLOOD_PIECE = "x" * 1000
FLOOD_CHARS = 16 * 1024 * 1024
"""What a flooding turn streams at most, far past any cap a test sets: then it ends as usual
(a gateway that does not cut it sees the whole answer, and its test fails)."""


async def flood(
    upstream: FakeUpstream, response: web.StreamResponse, delta: Callable[[str], bytes]
) -> bool:
    """Writes ``delta(FLOOD_PIECE)`` events until the gateway hangs up (``True``, recorded in
    ``hangups``) or ``FLOOD_CHARS`` were sent (``False``)."""
    try:
        for _ in range(FLOOD_CHARS // len(FLOOD_PIECE)):
            await response.write(delta(FLOOD_PIECE))
    except ConnectionError:
        upstream.hangups.append(time.monotonic())
        return True
    except asyncio.CancelledError:  # aiohttp cancels a handler whose client left
        upstream.hangups.append(time.monotonic())
        raise
    return False


Renderer = Callable[["FakeUpstream", web.Request, Any, Turn], Awaitable[web.StreamResponse]]


@dataclass
class FakeUpstream:
    """Start with ``await upstream.start()``; ``url`` is then ``http://127.0.0.1:<port>``."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    default_turn: Turn = field(default_factory=Turn)

    def __post_init__(self) -> None:
        self.hangups: list[float] = []
        """``time.monotonic()`` when the gateway closed a connection the fake was holding
        (a HANG or a stalled stream): how fast a cancellation reached the upstream."""
        self._script: deque[Turn] = deque()
        self._runner: web.AppRunner | None = None
        self._routes: dict[str, Renderer] = {}
        self._methods: dict[str, str] = {}
        self._unrecorded: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def route(
        self, path: str, renderer: Renderer, *, recorded: bool = True, method: str = "POST"
    ) -> None:
        """Register a vendor dialect's renderer for ``method path`` (before ``start``); ``path``
        may hold aiohttp ``{variables}``, read back from ``request.match_info``. Requests to an
        unrecorded path (a credentials token endpoint) stay out of ``requests``: tests read
        that list as the model calls made."""
        self._routes[path] = renderer
        self._methods[path] = method
        if not recorded:
            self._unrecorded.add(path)

    def script(self, *turns: Turn) -> None:
        self._script.extend(turns)

    def reset(self) -> None:
        self._script.clear()
        self.requests.clear()
        self.hangups.clear()

    async def hold(self) -> None:
        """Wait until the gateway closes the connection (aiohttp then cancels the handler)."""
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.hangups.append(time.monotonic())
            raise

    def hung_up(self, within: float = 5.0) -> bool:
        """Whether the gateway closed a connection the fake was holding, waiting up to
        ``within`` seconds: the fake notices on its own loop (a failed write, a cancelled
        handler), after the client may already have read the gateway's answer. For tests that
        run the fake on the background loop's thread (not on their own)."""
        deadline = time.monotonic() + within
        while not self.hangups and time.monotonic() < deadline:
            time.sleep(0.01)
        return bool(self.hangups)

    def next_turn(self) -> Turn:
        return self._script.popleft() if self._script else self.default_turn

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for path in self._routes:
            app.router.add_route(self._methods[path], path, self._handle)
        # handler_cancellation: a HANG handler ends when its client gives up; otherwise
        # cleanup() waits 60 s for each one still sleeping.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        # Keyed by the route's pattern: Azure's and Gemini's paths carry the model in them.
        pattern = request.match_info.route.resource.canonical  # type: ignore[union-attr]
        if pattern in self._unrecorded:
            return await self._routes[pattern](self, request, body, self.default_turn)
        self.requests.append(
            RecordedRequest(
                request.method, request.path, dict(request.headers), body, time.monotonic()
            )
        )
        turn = self.next_turn()
        if turn.fault is Fault.HANG:
            await self.hold()
        return await self._routes[pattern](self, request, body, turn)
