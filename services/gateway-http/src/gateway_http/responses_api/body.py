"""Decoding a ``POST /v1/responses`` body: JSON to a dict, with the scalar fields checked.

The items and tools stay plain JSON: the native path forwards them as sent, the translated
path reads them in ``request``. The fields both paths rely on are validated here, once, with
errors that name them (``param``).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from gateway_core.errors import InvalidRequestError
from gateway_http.schemas.json_body import decode_body, error_path


class ResponsesBodyFields(Struct, kw_only=True):
    model: Annotated[str, Meta(min_length=1)]
    input: Annotated[str, Meta(min_length=1)] | list[dict[str, Any]] | None = None
    instructions: str | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_output_tokens: Annotated[int, Meta(ge=1)] | None = None
    tools: list[dict[str, Any]] | None = None
    text: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    stream: bool | None = None
    store: bool | None = None
    previous_response_id: Annotated[str, Meta(min_length=1)] | None = None
    session_id: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    """The gateway's own extension, as on chat (the translated path)."""
    reasoning: dict[str, Any] | None = None
    include: list[str] | None = None


_json = msgspec.json.Decoder(dict[str, Any])


def decode_responses_body(raw: bytes) -> dict[str, Any]:
    body = decode_body(_json, raw)
    try:
        msgspec.convert(body, ResponsesBodyFields)
    except msgspec.ValidationError as error:
        raise InvalidRequestError(str(error), param=error_path(str(error))) from None
    if body.get("input") is None and body.get("previous_response_id") is None:
        raise InvalidRequestError("'input' is required.", param="input")
    return body
