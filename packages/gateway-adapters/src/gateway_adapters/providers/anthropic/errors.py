"""Anthropic's failures as gateway errors, by Anthropic's ``error.type`` and HTTP status.

Anthropic answers ``{"type": "error", "error": {"type": ..., "message": ...}}`` with an error
status, and sends the same object as an ``error`` event inside a stream that already started
(https://docs.anthropic.com/en/api/errors). The type decides where it is known, the status
otherwise; message text never does. Only a rejected request (UpstreamBadRequestError) carries
Anthropic's own message, because the client needs it to fix the request.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from gateway_adapters.providers.anthropic.schema import ErrorBody, ErrorDetail
from gateway_adapters.providers.http_errors import retry_after_seconds, status_error
from gateway_core.errors import (
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamOverloadedError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
)

BY_ERROR_TYPE: Mapping[str, type[ProviderError]] = {
    "invalid_request_error": UpstreamBadRequestError,
    "not_found_error": UpstreamBadRequestError,  # mostly an unknown model: the client's to fix
    "request_too_large": UpstreamBadRequestError,
    "authentication_error": UpstreamAuthError,
    "permission_error": UpstreamAuthError,
    "billing_error": UpstreamAuthError,  # our account, not the client's request
    "rate_limit_error": UpstreamRateLimitError,
    "api_error": UpstreamServerError,
    "timeout_error": UpstreamTimeoutError,
    "overloaded_error": UpstreamOverloadedError,
}

BY_STATUS: Mapping[int, type[ProviderError]] = {
    400: UpstreamBadRequestError,
    401: UpstreamAuthError,
    402: UpstreamAuthError,
    403: UpstreamAuthError,
    404: UpstreamBadRequestError,
    413: UpstreamBadRequestError,
    429: UpstreamRateLimitError,
    500: UpstreamServerError,
    503: UpstreamOverloadedError,
    504: UpstreamTimeoutError,
    529: UpstreamOverloadedError,
}

_MAX_SHOWN_MESSAGE = 1000


_body_decoder = msgspec.json.Decoder(ErrorBody)


def error_from_response(
    status: int, raw: bytes, headers: Mapping[str, str], *, provider: str
) -> ProviderError:
    """The error for an HTTP error answer; its body may be anything, even not JSON."""
    try:
        detail = _body_decoder.decode(raw).error
    except msgspec.DecodeError:
        detail = ErrorDetail()
    error_class = BY_ERROR_TYPE.get(detail.type)
    table = {status: error_class} if error_class is not None else BY_STATUS
    return status_error(
        status,
        provider,
        table,
        message=_message(table.get(status), detail, provider, f"HTTP {status}"),
        retry_after=retry_after_seconds(headers),
    )


def error_from_event(error_type: str, message: str, *, provider: str) -> ProviderError:
    """The error for an ``error`` event in a stream (no status: the stream had begun)."""
    error_class = BY_ERROR_TYPE.get(error_type, UpstreamServerError)
    detail = ErrorDetail(error_type, message)
    return error_class(_message(error_class, detail, provider, "mid-stream"), provider=provider)


def _message(
    error_class: type[ProviderError] | None, detail: ErrorDetail, provider: str, where: str
) -> str:
    if error_class is UpstreamBadRequestError and detail.message:
        return f"{provider} rejected the request: {detail.message[:_MAX_SHOWN_MESSAGE]}"
    known_type = f": {detail.type}" if detail.type in BY_ERROR_TYPE else ""
    return f"{provider} failed ({where}){known_type}"
