"""Decoding a JSON request body into its msgspec schema, with errors a client can act on.

Every route's body goes through ``decode_body``: malformed JSON, invalid UTF-8 and nesting
deeper than the decoder's recursion limit are 400s naming the problem (never a 500), and the
fields that would let a client choose the upstream (``api_base``, ``base_url``, ``api_key``,
...) are refused on every route, whatever the route's own schema ignores.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from gateway_core.errors import ForbiddenParameterError, InvalidRequestError

T = TypeVar("T")

UPSTREAM_OVERRIDES = ("api_base", "base_url", "api_key", "api_version", "custom_llm_provider")
"""Fields some SDKs and proxies use to point a request at another upstream or key."""
_OVERRIDE_MARKERS = tuple(f'"{name}"'.encode() for name in UPSTREAM_OVERRIDES)
_any_json = msgspec.json.Decoder(dict[str, Any])


def decode_body(decoder: msgspec.json.Decoder[T], raw: bytes) -> T:
    """Parse and validate in one pass; ``InvalidRequestError`` names the offending field."""
    try:
        body = decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise InvalidRequestError(str(error), param=error_path(str(error))) from None
    except msgspec.DecodeError as error:
        message = f"The request body is not valid JSON: {error}"
        raise InvalidRequestError(message, code="invalid_json") from None
    except UnicodeDecodeError as error:
        message = f"The request body is not valid UTF-8 (byte {error.start})."
        raise InvalidRequestError(message, code="invalid_utf8") from None
    except RecursionError:
        message = "The request body nests JSON arrays or objects too deeply."
        raise InvalidRequestError(message, code="json_too_deep") from None
    refuse_upstream_overrides(raw)
    return body


def refuse_upstream_overrides(raw: bytes) -> None:
    """400 when the body's top level names an upstream override. A substring check first:
    almost no body holds one, and those pay one more decode."""
    if not any(marker in raw for marker in _OVERRIDE_MARKERS):
        return
    top = _any_json.decode(raw)
    for name in UPSTREAM_OVERRIDES:
        if top.get(name) is not None:
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
