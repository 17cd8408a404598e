"""Azure OpenAI as a ChatProvider and EmbeddingProvider, over the pooled HTTP/1.1 client.

The body is OpenAI's (``providers.openai.wire``, reused as is); what differs is where it goes
and how it is authorized:

- deployment paths: ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=V``
  (and ``/embeddings``), the model named by the path;
- or, with ``api_version="v1"``, the newer ``{endpoint}/openai/v1/chat/completions`` surface,
  the deployment named as ``model`` in the body;
- an ``api-key`` header, or a Microsoft Entra ID bearer token (``EntraTokenSource``: client
  secret or workload identity; ``ManagedIdentityTokenSource``: a managed identity).

``deployments`` maps the gateway's model id to a ``Deployment``; a model not in it is its own
deployment name at the provider's endpoint and api-version. Content-filter answers keep
``finish_reason: "content_filter"`` (OpenAI's value, passed through by the shared wire module).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from gateway_adapters.http1 import Http1Client, Response, Target
from gateway_adapters.providers.azure.entra import CachedToken
from gateway_adapters.providers.azure.errors import http_error
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_adapters.providers.openai.embeddings import (
    decode_embeddings,
    to_embeddings_payload,
)
from gateway_adapters.providers.openai.relay import relay_stream, tapped_stream
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

V1 = "v1"


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where one model is served: its deployment name, and optionally another resource
    endpoint or api-version than the provider's."""

    name: str
    endpoint: str | None = None
    api_version: str | None = None


class AzureOpenAIChatProvider:
    def __init__(
        self,
        *,
        name: str,
        endpoint: str,
        client: Http1Client,
        api_version: str = V1,
        api_key: str | None = None,
        entra: CachedToken | None = None,
        deployments: Mapping[str, Deployment] | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        deadlines: UpstreamDeadlines | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._endpoint = endpoint.rstrip("/")
        self._api_version = api_version
        self._api_key = api_key
        self._entra = entra
        self._deployments = dict(deployments or {})
        self._client = client
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._complete_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()
        self._targets: dict[tuple[str, str, str | None], Target] = {}

    def __repr__(self) -> str:  # never the key or the token
        return f"AzureOpenAIChatProvider(name={self.name!r}, endpoint={self._endpoint!r})"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        target, model = await self._target(request.model, "chat/completions")
        body = encode_payload(to_openai_payload(dataclasses.replace(request, model=model)))
        raw = await self._post(target, body)
        return decode_response(raw, self.name)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        target, model = await self._target(request.model, "chat/completions")
        payload = to_openai_payload(dataclasses.replace(request, model=model), stream=True)
        body = encode_payload(payload)
        try:
            async with self._client.post(target, body, self._stream_timeout) as response:
                if response.status >= 300:
                    raw = await response.read()
                    raise http_error(response.status, raw, response.headers, self.name)
                if request.relay != OPENAI_CHAT_WIRE:
                    chunks = self._chunks(response)
                elif (tap := RELAY_TAP.get()) is not None:  # middle events to the client here
                    chunks = tapped_stream(response, tap, self.name)
                else:  # the client reads this format too
                    chunks = relay_stream(response.iter_chunks(), self.name)
                async for chunk in chunks:
                    yield chunk
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        target, model = await self._target(request.model, "embeddings")
        body = encode_payload(to_embeddings_payload(dataclasses.replace(request, model=model)))
        raw = await self._post(target, body)
        return decode_embeddings(raw, self.name, request.model)

    async def _post(self, target: Target, body: bytes) -> bytes:
        try:
            async with self._client.post(target, body, self._complete_timeout) as response:
                raw = await response.read()
                if response.status >= 300:
                    raise http_error(response.status, raw, response.headers, self.name)
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc
        return raw

    async def _target(self, model: str, operation: str) -> tuple[Target, str]:
        """The URL and headers for ``model``'s deployment, and the ``model`` the body names."""
        deployment = self._deployments.get(model) or Deployment(model)
        endpoint = (deployment.endpoint or self._endpoint).rstrip("/")
        version = deployment.api_version or self._api_version
        if version == V1:
            url = f"{endpoint}/openai/v1/{operation}"
        else:
            path = quote(deployment.name, safe="")
            url = f"{endpoint}/openai/deployments/{path}/{operation}?api-version={version}"
        token = await self._entra.token(self.name) if self._entra is not None else None
        key = (url, operation, token)
        target = self._targets.get(key)
        if target is None:
            target = Target(url, {**self._headers, **self._auth_header(token)})
            if token is not None:  # a refreshed token replaces the targets of the old one
                self._targets = {k: t for k, t in self._targets.items() if k[2] is None}
            self._targets[key] = target
        return target, deployment.name

    def _auth_header(self, token: str | None) -> dict[str, str]:
        if token is not None:
            return {"Authorization": f"Bearer {token}"}
        if self._api_key:
            return {"api-key": self._api_key}
        return {}

    async def _chunks(self, response: Response) -> AsyncIterator[ChatChunk]:
        """Azure's stream is OpenAI's, plus a first chunk with no choices that carries the
        prompt's filter results; ``[DONE]`` ends it."""
        async for event in iter_sse(response.iter_chunks()):
            if event.data == "[DONE]":
                return
            if event.data:
                for chunk in decode_chunk(event.data, self.name):
                    yield chunk
        raise UpstreamConnectionError(
            f"{self.name} ended the stream before [DONE]", provider=self.name
        )
