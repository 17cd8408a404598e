"""Google embeddings on the wire: pure translation both ways.

- Gemini API: ``POST /models/{model}:batchEmbedContents``, one request per input
  (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents); it reports no
  token count, so usage is zero (not guessed).
- Vertex AI: ``POST .../models/{model}:predict`` with one instance per input
  (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api);
  each prediction reports its ``statistics.token_count``.
``dimensions`` -> ``outputDimensionality`` in both.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway_adapters.providers.text_and_images import text_inputs
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

    return {"requests": [one(text) for text in text_inputs(request.inputs, "Gemini")]}


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


class _Statistics(msgspec.Struct):
    token_count: int = 0


class _PredictedEmbedding(msgspec.Struct):
    values: list[float]
    statistics: _Statistics | None = None


class _Prediction(msgspec.Struct):
    embeddings: _PredictedEmbedding


class _Predictions(msgspec.Struct):
    predictions: list[_Prediction]


_PREDICT_DECODER = msgspec.json.Decoder(_Predictions)


def to_predict_payload(request: EmbeddingRequest) -> dict[str, Any]:
    payload: dict[str, Any] = {"instances": [{"content": text} for text in request.inputs]}
    if request.dimensions is not None:
        payload["parameters"] = {"outputDimensionality": request.dimensions}
    return payload


def decode_predict(raw: bytes, provider: str, model: str) -> EmbeddingResponse:
    try:
        body = _PREDICT_DECODER.decode(raw)
    except msgspec.DecodeError as error:
        raise UpstreamResponseError(
            f"{provider} answered with a body that is not a predictions list", provider=provider
        ) from error
    embeddings = [prediction.embeddings for prediction in body.predictions]
    tokens = sum(item.statistics.token_count for item in embeddings if item.statistics)
    return EmbeddingResponse(
        model=model,
        vectors=tuple(tuple(item.values) for item in embeddings),
        usage=Usage(prompt_tokens=tokens),
        provider=provider,
    )
