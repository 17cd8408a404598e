"""Decoding a JSON request body into its msgspec schema, with errors a client can act on.

Every JSON route decodes through ``decode_body``, so the refusals that hold for every route
live here: bodies that are not UTF-8, nesting deeper than the decoder can follow, and fields
that would choose the upstream (``api_base``, ``base_url``, ``api_key``): the gateway alone
decides where a request goes and with which key.
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from gateway_core.errors import ForbiddenParameterError, InvalidRequestError

T = TypeVar("T")

UPSTREAM_OVERRIDE_FIELDS = ("api_base", "base_url", "api_key", "api_version", "custom_llm_provider")
"""Top-level fields no route accepts: each would let a caller pick the upstream or its key."""

# The quoted names as bytes: one search (in C, no generator) skips the second parse for
# almost every body.
_OVERRIDE_MARKER = re.compile(
    b"|".join(re.escape(f'"{name}"'.encode()) for name in UPSTREAM_OVERRIDE_FIELDS)
)
_top_level = msgspec.json.Decoder(dict[str, msgspec.Raw])


def decode_body(decoder: msgspec.json.Decoder[T], raw: bytes) -> T:
    """Parse and validate in one pass; ``InvalidRequestError`` names the offending field."""
    refuse_invalid_utf8(raw)
    try:
        body = decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise InvalidRequestError(str(error), param=error_path(str(error))) from None
    except msgspec.DecodeError as error:
        message = f"The request body is not valid JSON: {error}"
        raise InvalidRequestError(message, code="invalid_json") from None
    except UnicodeDecodeError as error:
        message = f"The request body is not valid UTF-8 (byte offset {error.start})."
        raise InvalidRequestError(message, code="invalid_utf8") from None
    except RecursionError:
        message = "The request body nests JSON arrays or objects too deeply."
        raise InvalidRequestError(message, code="json_too_deep") from None
    refuse_upstream_overrides(raw)
    return body


def refuse_invalid_utf8(raw: bytes) -> None:
    """JSON is UTF-8 (RFC 8259), also in fields the schema skips unread; ASCII bodies (most)
    pass the check in C without a copy."""
    if raw.isascii():
        return
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"The request body is not valid UTF-8 (byte offset {error.start})."
        raise InvalidRequestError(message, code="invalid_utf8") from None


def refuse_upstream_overrides(raw: bytes) -> None:
    """Raise ``ForbiddenParameterError`` naming the first upstream-choosing top-level field."""
    if _OVERRIDE_MARKER.search(raw) is None:
        return
    try:
        fields = _top_level.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return  # a body that is not an object has no top-level fields to refuse
    for name in UPSTREAM_OVERRIDE_FIELDS:
        if name in fields and bytes(fields[name]) != b"null":
            raise ForbiddenParameterError(
                f"'{name}' is not accepted: the gateway chooses the upstream.", param=name
            )


def error_path(message: str) -> str | None:
    """msgspec ends messages with `- at `$.messages[0].role``; return ``messages[0].role``."""
    marker = "- at `$."
    start = message.rfind(marker)
    if start == -1:
        return None
    return message[start + len(marker) :].rstrip("`") or None
