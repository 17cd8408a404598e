"""Claude on Vertex AI: Anthropic's Messages format at Vertex's ``rawPredict`` endpoints.

``POST {vertex}/publishers/anthropic/models/{model}:rawPredict`` (``:streamRawPredict`` for SSE),
a bearer token from ``GoogleTokenSource``, and the Messages body without ``model`` (the path
names it) and with ``anthropic_version: "vertex-2023-10-16"`` in the body instead of a header
(https://docs.anthropic.com/en/api/claude-on-vertex-ai). Answers, streams and errors are the
Messages API's, read by the anthropic adapter's own modules.

``VertexAIChatProvider`` is what the ``vertex_ai`` provider type serves: Claude model ids
(``claude-...``) go here, every other model to Gemini.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from dataclasses import replace
from urllib.parse import quote

from gateway_adapters.http1 import Http1Client, Target
from gateway_adapters.providers.anthropic.errors import error_from_response
from gateway_adapters.providers.anthropic.stream import StreamTranslator
from gateway_adapters.providers.anthropic.wire import build_body, encode, parse_response
from gateway_adapters.providers.field_support import ANTHROPIC, servable_extras
from gateway_adapters.providers.gemini.adapter import GeminiChatProvider
from gateway_adapters.providers.gemini.google_auth import GoogleTokenSource
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_adapters.providers.sse import iter_sse
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from gateway_core.ports.providers import ChatProvider

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


class VertexClaudeChatProvider:
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
        default_max_tokens: int = 4096,
    ) -> None:
        """``base_url``: the project and location's URL up to ``/publishers/anthropic``."""
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._client = client
        self._default_max_tokens = default_max_tokens
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._complete_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()

    def __repr__(self) -> str:
        return f"VertexClaudeChatProvider(name={self.name!r}, base_url={self._base_url!r})"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        target = await self._target(request.model, "rawPredict")
        body, dropped = self._body(request, stream=False)
        try:
            async with self._client.post(target, body, self._complete_timeout) as answer:
                raw = await answer.read()
                if answer.status != 200:
                    raise error_from_response(
                        answer.status, raw, answer.headers, provider=self.name
                    )
        except TRANSPORT_FAILURES as error:
            raise transport_error(error, self.name) from error
        parsed = parse_response(raw, provider=self.name, created=int(time.time()))
        return replace(parsed, dropped_params=dropped) if dropped else parsed

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        target = await self._target(request.model, "streamRawPredict")
        body, _ = self._body(request, stream=True)
        translator = StreamTranslator(self.name)
        try:
            async with self._client.post(target, body, self._stream_timeout) as answer:
                if answer.status != 200:
                    raw = await answer.read()
                    raise error_from_response(
                        answer.status, raw, answer.headers, provider=self.name
                    )
                async for event in iter_sse(answer.iter_chunks()):
                    for chunk in translator.feed(event.data):
                        yield chunk
        except TRANSPORT_FAILURES as error:
            raise transport_error(error, self.name) from error
        translator.finish()

    def _body(self, request: ChatRequest, *, stream: bool) -> tuple[bytes, tuple[str, ...]]:
        """The encoded body, and the request fields dropped as unsupported (``drop_params``):
        unmodelled fields follow Anthropic's table (``reasoning_effort`` -> ``thinking``...)."""
        extras, dropped = servable_extras(
            request.extra, ANTHROPIC, provider=self.name, drop=request.drop_params
        )
        built = build_body(
            request, default_max_tokens=self._default_max_tokens, stream=stream, extras=extras
        )
        body = dict(built)
        body.pop("model")
        body["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
        return encode(body), dropped  # type: ignore[arg-type]

    async def _target(self, model: str, method: str) -> Target:
        token = await self._tokens.token(self.name)
        url = f"{self._base_url}/models/{quote(model, safe='@')}:{method}"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        return Target(url, headers)


class VertexAIChatProvider:
    """Vertex AI's two model families behind one provider: Claude and Gemini."""

    def __init__(self, gemini: GeminiChatProvider, claude: ChatProvider) -> None:
        self.name = gemini.name
        self._gemini = gemini
        self._claude = claude

    def _for(self, model: str) -> ChatProvider:
        return self._claude if model.startswith("claude-") else self._gemini

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await self._for(request.model).complete(request)

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        return self._for(request.model).stream(request)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return await self._gemini.embed(request)  # Vertex's embedding models are Google's
