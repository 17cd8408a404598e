"""OpenAI Embeddings on the wire (``POST /embeddings``): pure translation both ways."""

from __future__ import annotations

import base64
import struct
from typing import TYPE_CHECKING, Any

import msgspec

from gateway_core.domain.embeddings import EmbeddingRequest, EmbeddingResponse
from gateway_core.domain.usage import Usage
from gateway_core.errors import UpstreamResponseError

if TYPE_CHECKING:
    from openai.types import EmbeddingCreateParams


class _Embedding(msgspec.Struct):
    embedding: list[float] | str
    """Floats, or base64 little-endian float32 bytes when ``encoding_format`` was base64."""
    index: int = 0

    def vector(self) -> tuple[float, ...]:
        if isinstance(self.embedding, list):
            return tuple(self.embedding)
        packed = base64.b64decode(self.embedding)
        return struct.unpack(f"<{len(packed) // 4}f", packed)


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0


class _Embeddings(msgspec.Struct):
    data: list[_Embedding]
    model: str = ""
    usage: _Usage | None = None


_DECODER = msgspec.json.Decoder(_Embeddings)


def to_embeddings_payload(request: EmbeddingRequest) -> EmbeddingCreateParams:
    payload: dict[str, Any] = {
        "model": request.model,
        "input": [item if isinstance(item, str) else list(item) for item in request.inputs],
        # The client's choice (base64 is the openai SDKs' default: a third of the bytes).
        "encoding_format": request.encoding_format or "float",
    }
    if request.dimensions is not None:
        payload["dimensions"] = request.dimensions
    if request.user is not None:
        payload["user"] = request.user
    return payload  # type: ignore[return-value]


def decode_embeddings(raw: bytes, provider: str, requested_model: str) -> EmbeddingResponse:
    try:
        body = _DECODER.decode(raw)
    except msgspec.DecodeError as error:
        raise UpstreamResponseError(
            f"{provider} answered with a body that is not an embeddings list", provider=provider
        ) from error
    ordered = sorted(body.data, key=lambda item: item.index)
    usage = Usage(prompt_tokens=body.usage.prompt_tokens if body.usage else 0)
    return EmbeddingResponse(
        model=body.model or requested_model,
        vectors=tuple(item.vector() for item in ordered),
        usage=usage,
        provider=provider,
    )
