"""Decoding a ``POST /v1/messages`` body: JSON to a dict, the scalar fields checked.

Blocks and tools stay plain JSON: the native path forwards them as sent, the translated path
reads them in ``request``. ``max_tokens`` is required, as Anthropic requires it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from gateway_core.errors import InvalidRequestError
from gateway_http.schemas.json_body import decode_body, error_path


class MessageFields(Struct):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class MessagesBodyFields(Struct, kw_only=True):
    model: Annotated[str, Meta(min_length=1)]
    messages: list[MessageFields]
    max_tokens: Annotated[int, Meta(ge=1)]
    system: str | list[dict[str, Any]] | None = None
    temperature: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_k: Annotated[int, Meta(ge=0)] | None = None
    stop_sequences: list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    stream: bool | None = None
    session_id: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    """The gateway's own extension, as on chat (the translated path)."""


class CountTokensBodyFields(Struct, kw_only=True):
    model: Annotated[str, Meta(min_length=1)]
    messages: list[MessageFields]
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None


_json = msgspec.json.Decoder(dict[str, Any])


def decode_messages_body(raw: bytes, *, counting: bool = False) -> dict[str, Any]:
    """The body as a dict; ``InvalidRequestError`` naming the field when it is not valid."""
    body = decode_body(_json, raw)
    try:
        msgspec.convert(body, CountTokensBodyFields if counting else MessagesBodyFields)
    except msgspec.ValidationError as error:
        raise InvalidRequestError(str(error), param=error_path(str(error))) from None
    return body
