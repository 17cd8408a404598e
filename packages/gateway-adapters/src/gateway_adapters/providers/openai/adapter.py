"""OpenAI Chat Completions over the pooled HTTP/1.1 client (``gateway_adapters.http1``).

The same class serves every OpenAI-compatible server (vLLM, DeepSeek, OpenRouter, local
inference servers): they differ by ``base_url``, key and extra headers, which are configuration.
The openai SDK is not used at run time: a pooled request costs a small fraction of the SDK's
CPU per call, and the SDK's retries would fight the use case's own.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping

from gateway_adapters.http1 import Http1Client, Response, Target
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_adapters.providers.openai.embeddings import (
    decode_embeddings,
    to_embeddings_payload,
)
from gateway_adapters.providers.openai.errors import http_error
from gateway_adapters.providers.openai.relay import RelayReader, tapped_stream
from gateway_adapters.providers.openai.wire import (
    decode_chunk,
    decode_response,
    encode_payload,
    to_openai_payload,
)
from gateway_adapters.providers.sse import iter_sse
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.chat import OPENAI_CHAT_WIRE, ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from gateway_core.domain.relay_tap import RELAY_TAP
from gateway_core.errors import UpstreamConnectionError

_DONE = "[DONE]"


class OpenAIChatProvider:
    """A ``ChatProvider`` for ``POST {base_url}/chat/completions``.

    ``timeout`` bounds a whole answer for ``complete`` and the silence between two reads of a
    stream (a stream may rightly last longer than any total limit); ``connect_timeout`` bounds
    getting a connection from the pool or opening one.
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | None,
        client: Http1Client,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        deadlines: UpstreamDeadlines | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._client = client
        fixed = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            fixed["Authorization"] = f"Bearer {api_key}"
        self._chat = Target(self._url, fixed)
        self._embeddings = Target(base_url.rstrip("/") + "/embeddings", fixed)
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._complete_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()

    def __repr__(self) -> str:  # never the headers: they hold the key
        return f"OpenAIChatProvider(name={self.name!r}, url={self._url!r})"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        body = encode_payload(to_openai_payload(request))
        try:
            async with self._client.post(self._chat, body, self._complete_timeout) as response:
                raw = await response.read()
                if response.status >= 300:
                    raise http_error(response.status, raw, response.headers, self.name)
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc
        return decode_response(raw, self.name)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        body = encode_payload(to_openai_payload(request, stream=True))
        try:
            async with self._client.post(self._chat, body, self._stream_timeout) as response:
                if response.status >= 300:
                    raw = await response.read()
                    raise http_error(response.status, raw, response.headers, self.name)
                if request.relay == OPENAI_CHAT_WIRE:
                    tap = RELAY_TAP.get()
                    if tap is not None:
                        async for chunk in tapped_stream(response, tap, self.name):
                            yield chunk
                        return
                    # The relay's reads looped over here, not through ``relay_stream``: one
                    # async generator fewer that every chunk of a stream passes through. No
                    # tap: no turn said that nothing keeps the answer, so its extras are read.
                    reader = RelayReader(self.name, extras=True, first_alone=True)
                    async for raw in response.iter_chunks():
                        for chunk in reader.read(raw):
                            yield chunk
                        if reader.done:
                            return
                    raise reader.cut_short()
                async for chunk in self._chunks(response):
                    yield chunk
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """``POST {base_url}/embeddings`` (float vectors)."""
        body = encode_payload(to_embeddings_payload(request))
        try:
            timeout = self._complete_timeout
            async with self._client.post(self._embeddings, body, timeout) as response:
                raw = await response.read()
                if response.status >= 300:
                    raise http_error(response.status, raw, response.headers, self.name)
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc
        return decode_embeddings(raw, self.name, request.model)

    async def _chunks(self, response: Response) -> AsyncIterator[ChatChunk]:
        """Chunks as their events complete; only ``[DONE]`` ends a stream cleanly."""
        async for event in iter_sse(response.iter_chunks()):
            if event.data == _DONE:
                return
            if event.data:
                for chunk in decode_chunk(event.data, self.name):
                    yield chunk
        raise UpstreamConnectionError(
            f"{self.name} ended the stream before [DONE]", provider=self.name
        )
