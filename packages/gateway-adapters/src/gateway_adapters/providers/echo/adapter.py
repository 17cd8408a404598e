"""A provider with no model behind it, for trying the gateway out: it repeats the last user
message. It needs no key and no network, and ``/v1/models`` labels it as such.

It honours the output limit only: a field that would shape a real model's answer (``logprobs``,
``top_k``, ...) is refused by name or, with ``drop_params``, dropped and reported, per its
column of the translation table (``field_support.ECHO``), never silently ignored."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import AsyncGenerator

from gateway_adapters.providers.field_support import ECHO, servable_extras
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, Choice
from gateway_core.domain.embeddings import EmbeddingInput, EmbeddingRequest, EmbeddingResponse
from gateway_core.domain.messages import Message
from gateway_core.domain.usage import Usage
from gateway_core.errors import UpstreamBadRequestError

_CHARS_PER_TOKEN = 4


def _tokens(text: str) -> int:
    return (len(text) + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN


class EchoChatProvider:
    """Answers with the text of the last user message, cut to ``max_tokens`` (estimated)."""

    def __init__(self, name: str = "echo") -> None:
        self.name = name

    def _dropped(self, request: ChatRequest) -> tuple[str, ...]:
        """The extras left out (``drop_params``); raises for one it cannot honour."""
        if not request.extra:
            return ()
        return servable_extras(request.extra, ECHO, provider=self.name, drop=request.drop_params)[1]

    @staticmethod
    def _answer(request: ChatRequest) -> tuple[str, str, Usage]:
        last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
        text = last_user.text if last_user else ""
        finish_reason = "stop"
        if request.max_tokens is not None and _tokens(text) > request.max_tokens:
            text = text[: request.max_tokens * _CHARS_PER_TOKEN]
            finish_reason = "length"
        prompt = sum(_tokens(m.text) for m in request.messages)
        return text, finish_reason, Usage(prompt_tokens=prompt, completion_tokens=_tokens(text))

    async def complete(self, request: ChatRequest) -> ChatResponse:
        dropped = self._dropped(request)
        text, finish_reason, usage = self._answer(request)
        return ChatResponse(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            model=request.model,
            created=int(time.time()),
            choices=(Choice(message=Message.assistant(text), finish_reason=finish_reason),),
            usage=usage,
            provider=self.name,
            dropped_params=dropped,
        )

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        dropped = self._dropped(request)
        text, finish_reason, usage = self._answer(request)
        yield ChatChunk(role="assistant", content="", model=request.model, dropped_params=dropped)
        words = text.split(" ") if text else []
        for position, word in enumerate(words):
            yield ChatChunk(content=word if position == 0 else " " + word)
        yield ChatChunk(finish_reason=finish_reason)
        yield ChatChunk(usage=usage)


_TEST_DIMENSIONS = 8


_MAX_TEST_DIMENSIONS = 4096
"""Larger than any real embedding model's (3,072 for text-embedding-3-large)."""


def _test_vector(item: EmbeddingInput, dimensions: int) -> tuple[float, ...]:
    """A deterministic unit-length vector from the input's hash: a stand-in, not a meaning."""
    text = item if isinstance(item, str) else ",".join(map(str, item))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return tuple(x / norm for x in raw)


class EchoEmbeddingProvider:
    """Embeddings for trying the gateway out: the same text always gets the same vector."""

    def __init__(self, name: str = "echo") -> None:
        self.name = name

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        dimensions = request.dimensions or _TEST_DIMENSIONS
        if dimensions > _MAX_TEST_DIMENSIONS:
            # A client-chosen size would otherwise make the process build any vector asked for.
            raise UpstreamBadRequestError(
                f"The echo provider makes vectors of at most {_MAX_TEST_DIMENSIONS} dimensions.",
                provider=self.name, param="dimensions",
            )
        return EmbeddingResponse(
            model=request.model,
            vectors=tuple(_test_vector(text, dimensions) for text in request.inputs),
            usage=Usage(prompt_tokens=request.estimated_tokens),
            provider=self.name,
        )
