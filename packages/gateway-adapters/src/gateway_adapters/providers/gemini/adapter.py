"""Google Gemini as a ChatProvider (and EmbeddingProvider), over the pooled HTTP/1.1 client.

One class for both doors to the same models, which share the wire format:

- the Gemini API: ``base_url`` ``https://generativelanguage.googleapis.com/v1beta``, the key
  in the ``x-goog-api-key`` header (never ``?key=``: a URL ends up in logs);
- Vertex AI: ``base_url`` ``https://{location}-aiplatform.googleapis.com/v1/projects/{project}
  /locations/{location}/publishers/google`` (``vertex_base_url``), a bearer token from
  ``GoogleTokenSource``.

Calls go to ``{base_url}/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import replace
from urllib.parse import quote

from gateway_adapters.http1 import Http1Client, Target
from gateway_adapters.providers.field_support import GEMINI, servable_extras
from gateway_adapters.providers.gemini import response
from gateway_adapters.providers.gemini.embeddings import (
    decode_batch,
    decode_predict,
    to_batch_payload,
    to_predict_payload,
)
from gateway_adapters.providers.gemini.errors import http_error
from gateway_adapters.providers.gemini.google_auth import GoogleTokenSource
from gateway_adapters.providers.gemini.stream import StreamTranslator
from gateway_adapters.providers.gemini.wire import encode, to_gemini_payload
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_adapters.providers.sse import iter_sse
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse

GEMINI_API = "https://generativelanguage.googleapis.com/v1beta"


def vertex_base_url(project: str, location: str) -> str:
    host = (
        "aiplatform.googleapis.com"
        if location == "global"
        else (f"{location}-aiplatform.googleapis.com")
    )
    return f"https://{host}/v1/projects/{project}/locations/{location}/publishers/google"


class GeminiChatProvider:
    def __init__(
        self,
        *,
        name: str,
        client: Http1Client,
        base_url: str = GEMINI_API,
        api_key: str | None = None,
        tokens: GoogleTokenSource | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        deadlines: UpstreamDeadlines | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._api_key = api_key
        self._tokens = tokens
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._complete_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()
        self._targets: dict[tuple[str, str | None], Target] = {}

    def __repr__(self) -> str:  # never the key or the token
        return f"GeminiChatProvider(name={self.name!r}, base_url={self._base_url!r})"

    def _body(self, request: ChatRequest) -> tuple[bytes, tuple[str, ...]]:
        """The encoded body, and the request fields dropped as unsupported (``drop_params``)."""
        extras, dropped = servable_extras(
            request.extra, GEMINI, provider=self.name, drop=request.drop_params
        )
        return encode(to_gemini_payload(request, extras)), dropped

    async def complete(self, request: ChatRequest) -> ChatResponse:
        body, dropped = self._body(request)
        target = await self._target(request.model, "generateContent")
        raw = await self._post(target, body)
        answer = response.to_response(response.decode(raw, self.name), self.name, request.model)
        return replace(answer, dropped_params=dropped) if dropped else answer

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        body, _ = self._body(request)
        target = await self._target(request.model, "streamGenerateContent?alt=sse")
        translator = StreamTranslator(self.name, request.model)
        try:
            async with self._client.post(target, body, self._stream_timeout) as answer:
                if answer.status >= 300:
                    raw = await answer.read()
                    raise http_error(answer.status, raw, answer.headers, self.name)
                async for chunk in translator.chunks(iter_sse(answer.iter_chunks())):
                    yield chunk
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """``batchEmbedContents`` on the Gemini API, ``predict`` on Vertex AI (whose door is
        the one with a token source)."""
        if self._tokens is not None:
            target = await self._target(request.model, "predict")
            raw = await self._post(target, encode(to_predict_payload(request)))
            return decode_predict(raw, self.name, request.model)
        target = await self._target(request.model, "batchEmbedContents")
        raw = await self._post(target, encode(to_batch_payload(request)))
        return decode_batch(raw, self.name, request.model)

    async def _post(self, target: Target, body: bytes) -> bytes:
        try:
            async with self._client.post(target, body, self._complete_timeout) as answer:
                raw = await answer.read()
                if answer.status >= 300:
                    raise http_error(answer.status, raw, answer.headers, self.name)
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc
        return raw

    async def _target(self, model: str, method: str) -> Target:
        token = await self._tokens.token(self.name) if self._tokens is not None else None
        url = f"{self._base_url}/models/{quote(model, safe='')}:{method}"
        target = self._targets.get((url, token))
        if target is None:
            if token is not None:  # a refreshed token replaces the old one's targets
                self._targets.clear()
            auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
            if token is None and self._api_key:
                auth = {"x-goog-api-key": self._api_key}
            target = Target(url, {**self._headers, **auth})
            self._targets[(url, token)] = target
        return target
