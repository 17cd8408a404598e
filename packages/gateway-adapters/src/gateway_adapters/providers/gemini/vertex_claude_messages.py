"""Claude on Vertex AI behind ``/v1/messages``, forwarded natively (a ``NativeFormatProvider``).

The client's Messages body goes to ``{vertex}/publishers/anthropic/models/{model}:rawPredict``
(``:streamRawPredict`` when it streams) as Anthropic's own Vertex client sends it: ``model``
moves into the path and ``anthropic_version: "vertex-2023-10-16"`` goes into the body; the rest
(thinking and its signatures, ``cache_control``, tools) is untouched, and so is the answer or
the event stream that comes back. The client's ``anthropic-beta`` header is forwarded as a
header, as Vertex reads it. Errors are the Messages API's, read by the anthropic adapter's
table. Only Claude model ids (``claude-...``) are served here; Gemini models on the same
provider go through the chat turn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import quote

import msgspec

from gateway_adapters.http1 import Http1Client, Response, Target
from gateway_adapters.providers.anthropic.errors import error_from_response
from gateway_adapters.providers.anthropic.messages_passthrough import (
    MESSAGES_DELTAS,
    messages_delta_chars,
    messages_reply,
    watch_messages_events,
)
from gateway_adapters.providers.gemini.google_auth import GoogleTokenSource
from gateway_adapters.providers.gemini.vertex_claude import VERTEX_ANTHROPIC_VERSION
from gateway_adapters.providers.native_stream import RelayedStream, read_answer
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.errors import ProviderError
from gateway_core.ports.native import NativeCall, NativeReply

_encoder = msgspec.json.Encoder()


def is_vertex_claude(model: str) -> bool:
    return model.startswith("claude-")


class VertexClaudeMessages:
    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        tokens: GoogleTokenSource,
        client: Http1Client,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        deadlines: UpstreamDeadlines | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``base_url``: the project and location's URL up to ``/publishers/anthropic``."""
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._client = client
        self._headers = {**(headers or {}), "content-type": "application/json"}
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._answer_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()

    def __repr__(self) -> str:  # never the token
        return f"VertexClaudeMessages(name={self.name!r}, base_url={self._base_url!r})"

    def serves(self, model: str) -> bool:
        return is_vertex_claude(model)

    async def send(self, call: NativeCall) -> NativeReply:
        model, body = _vertex_body(call, stream=False)
        target = await self._target(call, model, "rawPredict")
        raw = await read_answer(
            self._client, target, body, self._answer_timeout, self._error, self.name
        )
        return messages_reply(raw, self.name, model)

    def stream(self, call: NativeCall) -> RelayedStream:
        model, body = _vertex_body(call, stream=True)
        return RelayedStream(self._opened(call, model, body), provider=self.name,
                             watch=watch_messages_events, error_for=self._error, model=model,
                             count=messages_delta_chars, counted=MESSAGES_DELTAS)  # fmt: skip

    @asynccontextmanager
    async def _opened(self, call: NativeCall, model: str, body: bytes) -> AsyncIterator[Response]:
        # The token is fetched when the stream is first read: a refresh may need the network.
        target = await self._target(call, model, "streamRawPredict")
        async with self._client.post(target, body, self._stream_timeout) as response:
            yield response

    async def _target(self, call: NativeCall, model: str, method: str) -> Target:
        token = await self._tokens.token(self.name)
        url = f"{self._base_url}/models/{quote(model, safe='@')}:{method}"
        beta = {k.lower(): v for k, v in call.headers.items() if k.lower() == "anthropic-beta"}
        return Target(url, {**beta, **self._headers, "authorization": f"Bearer {token}"})

    def _error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProviderError:
        return error_from_response(status, raw, headers, provider=self.name)


def _vertex_body(call: NativeCall, *, stream: bool) -> tuple[str, bytes]:
    """The model id (for the path) and the body Vertex takes: no ``model``, the version in it."""
    body = {key: value for key, value in call.body.items() if key != "model"}
    body["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    return str(call.body.get("model", "")), _encoder.encode(body)
