"""Google API failures -> ``gateway_core.errors``, by HTTP status and structured details.

Error body (https://cloud.google.com/apis/design/errors):
``{"error": {"code": 429, "message", "status": "RESOURCE_EXHAUSTED", "details": [...]}}``.
Two details are read, never the message text: ``google.rpc.RetryInfo.retryDelay`` (how long
to wait, e.g. ``"7s"``) and ``google.rpc.ErrorInfo.reason`` (the Gemini API answers a wrong
API key with 400 and reason ``API_KEY_INVALID``: that is our credential, not the client's
request). Only a rejected request's message reaches the client.
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
    UpstreamTimeoutError,
)

STATUS_ERRORS: Mapping[int, type[ProviderError]] = {
    400: UpstreamBadRequestError,
    404: UpstreamBadRequestError,
    409: UpstreamBadRequestError,
    401: UpstreamAuthError,
    403: UpstreamAuthError,
    429: UpstreamRateLimitError,
    503: UpstreamOverloadedError,
    504: UpstreamTimeoutError,
}
# google.rpc.Code names, for an error sent inside a stream (it has no HTTP status of its own).
CODE_STATUSES: Mapping[str, int] = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "NOT_FOUND": 404,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
_CREDENTIAL_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "ACCESS_TOKEN_EXPIRED"})
_MAX_MESSAGE = 500


def http_error(status: int, raw: bytes, headers: Mapping[str, str], provider: str) -> ProviderError:
    return _error(status, _detail(raw), retry_after_seconds(headers), provider)


def body_error(error: Any, provider: str) -> ProviderError:
    detail: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    code = detail.get("code")
    status = code if isinstance(code, int) else CODE_STATUSES.get(str(detail.get("status")), 500)
    return _error(status, detail, None, provider)


def _error(
    status: int, detail: Mapping[str, Any], retry_after: float | None, provider: str
) -> ProviderError:
    details = [item for item in detail.get("details") or () if isinstance(item, Mapping)]
    reasons = {str(item.get("reason")) for item in details if "ErrorInfo" in str(item.get("@type"))}
    retry_after = retry_after if retry_after is not None else _retry_delay(details)
    if reasons & _CREDENTIAL_REASONS:
        return UpstreamAuthError(
            f"{provider} refused the gateway's credentials", provider=provider, status=status
        )
    error = status_error(
        status,
        provider,
        STATUS_ERRORS,
        message=f"{provider} answered HTTP {status}",
        retry_after=retry_after,
    )
    message = detail.get("message")
    if isinstance(error, UpstreamBadRequestError) and isinstance(message, str):
        return UpstreamBadRequestError(
            f"{provider} rejected the request: {message[:_MAX_MESSAGE]}",
            provider=provider,
            status=status,
            code=str(detail.get("status") or "") or None,
            retry_after=retry_after,
        )
    return error


def _detail(raw: bytes) -> Mapping[str, Any]:
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    if isinstance(body, list) and body:  # a failed streamGenerateContent without alt=sse
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _retry_delay(details: list[Mapping[str, Any]]) -> float | None:
    for item in details:
        delay = item.get("retryDelay")
        if "RetryInfo" in str(item.get("@type")) and isinstance(delay, str):
            try:
                return max(float(delay.removesuffix("s")), 0.0)
            except ValueError:
                return None
    return None
