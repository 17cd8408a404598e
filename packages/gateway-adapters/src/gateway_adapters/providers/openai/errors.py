"""OpenAI (and OpenAI-compatible) failures -> ``gateway_core.errors``, by status and error type.

Error body: ``{"error": {"message", "type", "param", "code"}}``
(https://platform.openai.com/docs/guides/error-codes). Only a rejected request's message
reaches the client (it must learn what to fix); others are summarized, since e.g. OpenAI's
401 message quotes part of the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

STATUS_ERRORS: Mapping[int, type[ProviderError]] = {
    400: UpstreamBadRequestError,
    404: UpstreamBadRequestError,
    409: UpstreamBadRequestError,
    422: UpstreamBadRequestError,
    401: UpstreamAuthError,
    403: UpstreamAuthError,
    429: UpstreamRateLimitError,
    503: UpstreamOverloadedError,
    408: UpstreamTimeoutError,
    504: UpstreamTimeoutError,
}

# An error event inside a 200 stream has no status of its own. OpenAI names the failure in
# ``type``; vLLM and others put the HTTP status they would have sent in ``code``.
TYPE_ERRORS: Mapping[str, type[ProviderError]] = {
    "invalid_request_error": UpstreamBadRequestError,
    "authentication_error": UpstreamAuthError,
    "permission_error": UpstreamAuthError,
    "rate_limit_error": UpstreamRateLimitError,
    "rate_limit_exceeded": UpstreamRateLimitError,
    "tokens": UpstreamRateLimitError,
    "requests": UpstreamRateLimitError,
    "overloaded_error": UpstreamOverloadedError,
    "service_unavailable": UpstreamOverloadedError,
    "server_error": UpstreamServerError,
}

_MAX_UPSTREAM_MESSAGE = 500


def http_error(status: int, raw: bytes, headers: Mapping[str, str], provider: str) -> ProviderError:
    """The error for a non-2xx answer, from its status, its body and ``retry-after``."""
    error = status_error(
        status,
        provider,
        STATUS_ERRORS,
        message=f"{provider} answered HTTP {status}",
        retry_after=retry_after_seconds(headers),
    )
    return _with_detail(error, _error_detail(raw))


def stream_error(error: Any, provider: str) -> ProviderError:
    """The error for an ``{"error": ...}`` sent in place of a stream chunk or a completion."""
    detail: Mapping[str, Any] = error if isinstance(error, Mapping) else {"message": str(error)}
    code = detail.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600:
        status = status_error(
            code, provider, STATUS_ERRORS, message=f"{provider} answered {code}", retry_after=None
        )
        return _with_detail(status, detail)
    error_class = TYPE_ERRORS.get(str(detail.get("type")), UpstreamServerError)
    return _with_detail(error_class(f"{provider} reported an error", provider=provider), detail)


def _error_detail(raw: bytes) -> Mapping[str, Any]:
    """The ``error`` object of a body, or nothing if the body is not OpenAI-shaped (a proxy's
    HTML page, an empty body...)."""
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    if isinstance(error, str):  # some compatible servers send {"error": "text"}
        return {"message": error}
    return {}


def _with_detail(error: ProviderError, detail: Mapping[str, Any]) -> ProviderError:
    """A rejected request keeps the upstream's message, code and param: the client needs
    them to fix its request. Every other failure keeps only our own summary."""
    message = detail.get("message")
    if not isinstance(error, UpstreamBadRequestError) or not isinstance(message, str):
        return error
    code, param = detail.get("code"), detail.get("param")
    return type(error)(
        f"{error.provider} rejected the request: {message[:_MAX_UPSTREAM_MESSAGE]}",
        provider=error.provider,
        status=error.status,
        code=code if isinstance(code, str) and code else None,
        param=param if isinstance(param, str) else None,
        retry_after=error.retry_after,
    )
