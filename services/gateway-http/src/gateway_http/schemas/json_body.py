"""Decoding a JSON request body into its msgspec schema, with errors a client can act on."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from gateway_core.errors import InvalidRequestError

T = TypeVar("T")


def decode_body(decoder: msgspec.json.Decoder[T], raw: bytes) -> T:
    """Parse and validate in one pass; ``InvalidRequestError`` names the offending field."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise InvalidRequestError(str(error), param=error_path(str(error))) from None
    except msgspec.DecodeError as error:
        message = f"The request body is not valid JSON: {error}"
        raise InvalidRequestError(message, code="invalid_json") from None


def error_path(message: str) -> str | None:
    """msgspec ends messages with `- at `$.messages[0].role``; return ``messages[0].role``."""
    marker = "- at `$."
    start = message.rfind(marker)
    if start == -1:
        return None
    return message[start + len(marker) :].rstrip("`") or None
