"""``POST /v1/embeddings`` in OpenAI's shapes (float vectors)."""

from __future__ import annotations

import base64
import struct
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from gateway_core.domain.embeddings import EmbeddingInput, EmbeddingRequest, EmbeddingResponse
from gateway_core.domain.money import Money
from gateway_core.errors import InvalidRequestError
from gateway_http.schemas.json_body import decode_body

_MAX_INPUTS = 2048


_Text = Annotated[str, Meta(min_length=1)]
_TokenIds = Annotated[list[Annotated[int, Meta(ge=0)]], Meta(min_length=1)]


class EmbeddingsBody(Struct, kw_only=True):
    model: Annotated[str, Meta(min_length=1)]
    input: (
        _Text
        | Annotated[list[_Text | _TokenIds | int], Meta(min_length=1, max_length=_MAX_INPUTS)]
    )
    """A text, a list of texts, a list of token ids (one input), or a list of token-id lists."""
    encoding_format: Literal["float", "base64"] = "float"
    """``base64``: little-endian float32 bytes, base64-encoded (the openai SDKs' default)."""
    dimensions: Annotated[int, Meta(ge=1)] | None = None
    user: str | None = None


_decoder = msgspec.json.Decoder(EmbeddingsBody)


def decode_embeddings_body(raw: bytes) -> tuple[EmbeddingRequest, bool]:
    """The request, and whether the client wants base64 vectors."""
    body = decode_body(_decoder, raw)
    request = EmbeddingRequest(
        body.model, _inputs(body.input), body.dimensions, body.user, body.encoding_format
    )
    return request, body.encoding_format == "base64"


def _inputs(given: str | list[str | list[int] | int]) -> tuple[EmbeddingInput, ...]:
    """OpenAI's four input shapes; a flat list of integers is one input's token ids."""
    if isinstance(given, str):
        return (given,)
    ints = [item for item in given if isinstance(item, int)]
    if ints and len(ints) < len(given):
        raise InvalidRequestError(
            "'input' mixes token ids with texts or token-id lists", param="input"
        )
    if ints:
        return (tuple(ints),)
    return tuple(item if isinstance(item, str) else _token_ids(item) for item in given)


def _token_ids(item: list[int] | int) -> tuple[int, ...]:
    if isinstance(item, int):  # guarded above: a bare id never reaches here
        raise InvalidRequestError("'input' mixes token ids with token-id lists", param="input")
    return tuple(item)


def _base64(vector: tuple[float, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embeddings_body(
    response: EmbeddingResponse, cost_usd: Money, as_base64: bool = False
) -> dict[str, Any]:
    encode = _base64 if as_base64 else list
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encode(vector)}
            for index, vector in enumerate(response.vectors)
        ],
        "model": response.model,
        "usage": {
            "prompt_tokens": response.usage.prompt_tokens,
            "total_tokens": response.usage.total_tokens,
        },
        "x_gateway": {"provider": response.provider, "cost_usd": cost_usd.to_float()},
    }
