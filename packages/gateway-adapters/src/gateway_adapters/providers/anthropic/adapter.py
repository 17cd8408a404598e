"""The Anthropic Messages API as a ChatProvider, over the pooled HTTP/1.1 client it is given.

The pooled client (``gateway_adapters.http1``) and msgspec rather than the anthropic SDK: the
SDK costs several milliseconds of CPU per request on the hot path, the client a small fraction
of one. The SDK's types still check the
wire format (see wire.py and the contract tests).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Collection, Mapping
from dataclasses import replace

from gateway_adapters.http1 import Http1Client, Target
from gateway_adapters.providers.anthropic.errors import error_from_response
from gateway_adapters.providers.anthropic.stream import StreamTranslator
from gateway_adapters.providers.anthropic.wire import (
    MODELS_WITHOUT_SAMPLING,
    build_body,
    encode,
    parse_response,
)
from gateway_adapters.providers.field_support import ANTHROPIC, servable_extras
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_adapters.providers.sse import iter_sse
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse


class AnthropicChatProvider:
    """Chat over ``POST {base_url}/v1/messages``; ``base_url`` is like https://api.anthropic.com.

    ``timeout`` bounds a whole non-streamed answer, and the silence between two reads of a
    stream (Anthropic sends pings while it thinks). ``max_tokens_by_model`` and
    ``default_max_tokens`` fill in the ``max_tokens`` Anthropic requires when the client
    sends none. ``headers`` are added to every request (``anthropic-beta``, for example).
    Temperature and top_p are left out for models whose id starts with one of
    ``models_without_sampling``: those models refuse them with a 400 rather than ignore them.
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
        anthropic_version: str = "2023-06-01",
        default_max_tokens: int = 4096,
        max_tokens_by_model: Mapping[str, int] | None = None,
        headers: Mapping[str, str] | None = None,
        models_without_sampling: Collection[str] = MODELS_WITHOUT_SAMPLING,
    ) -> None:
        self.name = name
        self._url = base_url.rstrip("/") + "/v1/messages"
        self._client = client
        self._default_max_tokens = default_max_tokens
        self._max_tokens_by_model = dict(max_tokens_by_model or {})
        self._models_without_sampling = tuple(models_without_sampling)
        fixed = {
            **(headers or {}),
            "anthropic-version": anthropic_version,
            "content-type": "application/json",
        }
        if api_key is not None:
            fixed["x-api-key"] = api_key
        self._answer = Target(self._url, fixed)
        self._streamed = Target(self._url, {**fixed, "accept": "text/event-stream"})
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._answer_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()

    def __repr__(self) -> str:  # never show the headers: they hold the key
        return f"AnthropicChatProvider(name={self.name!r}, url={self._url!r})"

    def _body(self, request: ChatRequest, *, stream: bool) -> tuple[bytes, tuple[str, ...]]:
        """The encoded body, and the request fields dropped as unsupported (``drop_params``)."""
        default = self._max_tokens_by_model.get(request.model, self._default_max_tokens)
        sampling = not request.model.startswith(self._models_without_sampling)
        extras, dropped = servable_extras(
            request.extra, ANTHROPIC, provider=self.name, drop=request.drop_params
        )
        body = build_body(
            request, default_max_tokens=default, stream=stream, sampling=sampling, extras=extras
        )
        return encode(body), dropped

    async def complete(self, request: ChatRequest) -> ChatResponse:
        body, dropped = self._body(request, stream=False)
        try:
            async with self._client.post(self._answer, body, self._answer_timeout) as response:
                raw = await response.read()
                if response.status != 200:
                    raise error_from_response(
                        response.status, raw, response.headers, provider=self.name
                    )
        except TRANSPORT_FAILURES as error:
            raise transport_error(error, self.name) from error
        answer = parse_response(raw, provider=self.name, created=int(time.time()))
        return replace(answer, dropped_params=dropped) if dropped else answer

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        body, dropped = self._body(request, stream=True)
        translator = StreamTranslator(self.name)
        try:
            async with self._client.post(self._streamed, body, self._stream_timeout) as response:
                if response.status != 200:
                    raw = await response.read()
                    raise error_from_response(
                        response.status, raw, response.headers, provider=self.name
                    )
                async for event in iter_sse(response.iter_chunks()):
                    for chunk in translator.feed(event.data):
                        if dropped:  # the first chunk names them, for the response headers
                            chunk, dropped = replace(chunk, dropped_params=dropped), ()
                        yield chunk
        except TRANSPORT_FAILURES as error:
            raise transport_error(error, self.name) from error
        translator.finish()
