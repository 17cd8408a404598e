"""Gemini API embeddings on the wire (``POST /models/{model}:batchEmbedContents``): pure.

One request per input (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents),
``dimensions`` -> ``outputDimensionality``. The Gemini API reports no token count for
embeddings, so usage is zero (not guessed).
"""

from __future__ import annotations

from typing import Any

import msgspec
from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from gateway_core.domain.usage import Usage
from gateway_core.errors import UpstreamResponseError


class _Embedding(msgspec.Struct):
    values: list[float]


class _Embeddings(msgspec.Struct):
    embeddings: list[_Embedding]


_DECODER = msgspec.json.Decoder(_Embeddings)


def to_batch_payload(request: EmbeddingRequest) -> dict[str, Any]:
    def one(text: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "model": f"models/{request.model}",
            "content": {"parts": [{"text": text}]},
        }
        if request.dimensions is not None:
            item["outputDimensionality"] = request.dimensions
        return item

    return {"requests": [one(text) for text in request.inputs]}


def decode_batch(raw: bytes, provider: str, model: str) -> EmbeddingResponse:
    try:
        body = _DECODER.decode(raw)
    except msgspec.DecodeError as error:
        raise UpstreamResponseError(
            f"{provider} answered with a body that is not an embeddings list", provider=provider
        ) from error
    return EmbeddingResponse(
        model=model,
        vectors=tuple(tuple(item.values) for item in body.embeddings),
        usage=Usage(),
        provider=provider,
    )
