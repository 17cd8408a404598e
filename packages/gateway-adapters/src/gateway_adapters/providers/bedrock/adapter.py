"""Amazon Bedrock as a ChatProvider (Converse, ConverseStream) and EmbeddingProvider (Titan),
over the pooled HTTP/1.1 client, every request signed with SigV4 (``signing``).

``base_url`` is ``https://bedrock-runtime.{region}.amazonaws.com`` (``runtime_url``); the model
is a Bedrock model id (``anthropic.claude-sonnet-4-5-20250929-v1:0``), an inference profile id
(``us.anthropic...``) or an ARN, percent-encoded into the path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote

import msgspec

from gateway_adapters.http1 import Http1Client, Target
from gateway_adapters.providers.bedrock.embeddings import (
    TitanEmbedding,
    decode_titan,
    titan_payload,
)
from gateway_adapters.providers.bedrock.errors import http_error
from gateway_adapters.providers.bedrock.signing import SigV4Signer
from gateway_adapters.providers.bedrock.stream import StreamTranslator
from gateway_adapters.providers.bedrock.wire import decode_response, to_converse_payload
from gateway_adapters.providers.field_support import BEDROCK, servable_extras
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_adapters.providers.text_and_images import text_inputs
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from gateway_core.domain.usage import Usage


@dataclass(frozen=True, slots=True)
class Guardrail:
    """A Bedrock guardrail applied to every call of the provider
    (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-use-converse-api.html):
    its id or ARN, its version (a number or ``DRAFT``), and whether Bedrock adds its trace.
    An intervention ends the answer with ``stopReason: guardrail_intervened``, which is
    ``finish_reason: "content_filter"``."""

    identifier: str
    version: str = "DRAFT"
    trace: bool = False

    def converse_config(self) -> dict[str, str]:
        return {
            "guardrailIdentifier": self.identifier,
            "guardrailVersion": self.version,
            "trace": "enabled" if self.trace else "disabled",
        }

    def invoke_headers(self) -> dict[str, str]:
        """The same guardrail on InvokeModel (Claude through ``/v1/messages``)."""
        return {
            "X-Amzn-Bedrock-GuardrailIdentifier": self.identifier,
            "X-Amzn-Bedrock-GuardrailVersion": self.version,
            "X-Amzn-Bedrock-Trace": "ENABLED" if self.trace else "DISABLED",
        }


def runtime_url(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


class BedrockChatProvider:
    def __init__(
        self,
        *,
        name: str,
        signer: SigV4Signer,
        client: Http1Client,
        base_url: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        deadlines: UpstreamDeadlines | None = None,
        headers: Mapping[str, str] | None = None,
        guardrail: Guardrail | None = None,
    ) -> None:
        self.name = name
        self._guardrail = guardrail.converse_config() if guardrail is not None else None
        self._signer = signer
        self._client = client
        self._base_url = (base_url or runtime_url(signer.region)).rstrip("/")
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._complete_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()

    def __repr__(self) -> str:  # never the credentials
        return f"BedrockChatProvider(name={self.name!r}, base_url={self._base_url!r})"

    def _body(self, request: ChatRequest) -> tuple[bytes, tuple[str, ...]]:
        """The encoded body, and the request fields dropped as unsupported (``drop_params``):
        unmodelled fields follow ``field_support.BEDROCK``."""
        extras, dropped = servable_extras(
            request.extra, BEDROCK, provider=self.name, drop=request.drop_params
        )
        payload = to_converse_payload(request, extras)
        if self._guardrail is not None:
            payload["guardrailConfig"] = self._guardrail
        return msgspec.json.encode(payload), dropped

    async def complete(self, request: ChatRequest) -> ChatResponse:
        body, dropped = self._body(request)
        raw = await self._post(await self._signed(request.model, "converse", body), body)
        answer = decode_response(raw, self.name, request.model)
        return replace(answer, dropped_params=dropped) if dropped else answer

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        body, _ = self._body(request)
        target = await self._signed(request.model, "converse-stream", body)
        translator = StreamTranslator(self.name, request.model)
        try:
            async with self._client.post(target, body, self._stream_timeout) as answer:
                if answer.status >= 300:
                    raw = await answer.read()
                    raise http_error(answer.status, raw, answer.headers, self.name)
                async for chunk in translator.chunks(answer.iter_chunks()):
                    yield chunk
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """One Titan ``InvokeModel`` call per input, concurrently."""
        texts = text_inputs(request.inputs, "Bedrock")
        answers = await asyncio.gather(
            *(self._embed_one(request.model, text, request.dimensions) for text in texts)
        )
        return EmbeddingResponse(
            model=request.model,
            vectors=tuple(tuple(answer.embedding) for answer in answers),
            usage=Usage(prompt_tokens=sum(a.input_text_token_count for a in answers)),
            provider=self.name,
        )

    async def _embed_one(self, model: str, text: str, dimensions: int | None) -> TitanEmbedding:
        body = msgspec.json.encode(titan_payload(text, dimensions))
        raw = await self._post(await self._signed(model, "invoke", body), body)
        return decode_titan(raw, self.name)

    async def _signed(self, model: str, operation: str, body: bytes) -> Target:
        url = f"{self._base_url}/model/{quote(model, safe='')}/{operation}"
        headers = await self._signer.headers(url, body, self._headers, self.name)
        return Target(url, headers)

    async def _post(self, target: Target, body: bytes) -> bytes:
        try:
            async with self._client.post(target, body, self._complete_timeout) as answer:
                raw = await answer.read()
                if answer.status >= 300:
                    raise http_error(answer.status, raw, answer.headers, self.name)
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, self.name) from exc
        return raw
