"""Bedrock embeddings through Amazon Titan Text Embeddings (``InvokeModel``): pure.

``POST /model/amazon.titan-embed-text-v2:0/invoke`` takes one text:
``{"inputText", "dimensions"?, "normalize": true}`` and answers
``{"embedding": [...], "inputTextTokenCount": n}``
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html).
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway_core.errors import UpstreamResponseError


class TitanEmbedding(msgspec.Struct, rename="camel"):
    embedding: list[float]
    input_text_token_count: int = 0


_DECODER = msgspec.json.Decoder(TitanEmbedding)


def titan_payload(text: str, dimensions: int | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"inputText": text, "normalize": True}
    if dimensions is not None:
        payload["dimensions"] = dimensions
    return payload


def decode_titan(raw: bytes, provider: str) -> TitanEmbedding:
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError as error:
        raise UpstreamResponseError(
            f"{provider} answered with a body that is not a Titan embedding", provider=provider
        ) from error
