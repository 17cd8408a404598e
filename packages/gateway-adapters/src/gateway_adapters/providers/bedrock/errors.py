"""Bedrock failures -> ``gateway_core.errors``, by the error's type name and HTTP status.

Bedrock names the failure in the ``x-amzn-ErrorType`` header (``ThrottlingException:http://...``)
and answers ``{"message": "..."}``; inside a ConverseStream the same names arrive as exception
frames (``:exception-type``).
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors
Only a rejected request's message reaches the client.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

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

TYPE_ERRORS: Mapping[str, type[ProviderError]] = {
    "ValidationException": UpstreamBadRequestError,
    "ResourceNotFoundException": UpstreamBadRequestError,
    "ModelErrorException": UpstreamServerError,
    "AccessDeniedException": UpstreamAuthError,
    "UnrecognizedClientException": UpstreamAuthError,
    "InvalidSignatureException": UpstreamAuthError,
    "ExpiredTokenException": UpstreamAuthError,
    "ThrottlingException": UpstreamRateLimitError,
    "ModelNotReadyException": UpstreamRateLimitError,
    "ServiceQuotaExceededException": UpstreamRateLimitError,
    "ServiceUnavailableException": UpstreamOverloadedError,
    "ModelTimeoutException": UpstreamTimeoutError,
    "ModelStreamErrorException": UpstreamServerError,
    "InternalServerException": UpstreamServerError,
}
STATUS_ERRORS: Mapping[int, type[ProviderError]] = {
    400: UpstreamBadRequestError,
    403: UpstreamAuthError,
    429: UpstreamRateLimitError,
    503: UpstreamOverloadedError,
    408: UpstreamTimeoutError,
}
_MAX_MESSAGE = 500


class _Body(msgspec.Struct):
    message: str | None = None


def http_error(status: int, raw: bytes, headers: Mapping[str, str], provider: str) -> ProviderError:
    kind = headers.get("x-amzn-errortype", "").split(":", 1)[0]
    return typed_error(kind, status, raw, provider, retry_after_seconds(headers))


def typed_error(
    kind: str, status: int | None, raw: bytes, provider: str, retry_after: float | None = None
) -> ProviderError:
    kind = kind[:1].upper() + kind[1:]  # stream frames spell them throttlingException
    error_class = TYPE_ERRORS.get(kind)
    if error_class is None:
        error = status_error(
            status or 500, provider, STATUS_ERRORS,
            message=f"{provider} answered {kind or f'HTTP {status}'}", retry_after=retry_after,
        )  # fmt: skip
    else:
        what = f"{provider} answered {kind}" + (f" (HTTP {status})" if status else "")
        error = error_class(what, provider=provider, status=status, retry_after=retry_after)
    message = _message(raw)
    if isinstance(error, UpstreamBadRequestError) and message:
        return UpstreamBadRequestError(
            f"{provider} rejected the request: {message[:_MAX_MESSAGE]}",
            provider=provider,
            status=status,
            code=kind or None,
        )
    return error


def _message(raw: bytes) -> str | None:
    try:
        return msgspec.json.decode(raw, type=_Body).message
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
