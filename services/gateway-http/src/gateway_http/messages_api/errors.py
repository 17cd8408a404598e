"""Every error on ``/v1/messages`` in Anthropic's shape, from the gateway's one error tree.

Anthropic answers ``{"type": "error", "error": {"type", "message"}}``
(https://docs.anthropic.com/en/api/errors); its SDKs pick their exception class by status,
and retry 429, 5xx and 529. One table, walked along the exception's MRO like the OpenAI-shaped
one in ``gateway_http.errors``; the statuses are the gateway's, except where Anthropic has
its own: an overloaded upstream is 529 ``overloaded_error``, a spent budget 402
``billing_error``. The headers (retry-after, rate-limit state) are the same as on every route.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from gateway_core import errors as core
from gateway_http import errors as openai_shaped
from gateway_http.request_record import record_of

_TABLE: dict[type[core.GatewayError], tuple[int, str]] = {
    core.InvalidRequestError: (400, "invalid_request_error"),
    core.AuthenticationError: (401, "authentication_error"),
    core.PermissionDeniedError: (403, "permission_error"),
    core.NotFoundError: (404, "not_found_error"),
    core.ConflictError: (409, "invalid_request_error"),
    core.ToolArgumentsError: (422, "invalid_request_error"),
    core.RateLimitExceededError: (429, "rate_limit_error"),
    core.BudgetExceededError: (402, "billing_error"),
    core.ServiceUnavailableError: (503, "api_error"),
    core.ProviderError: (502, "api_error"),
    core.UpstreamBadRequestError: (400, "invalid_request_error"),
    core.UpstreamRateLimitError: (429, "rate_limit_error"),
    core.UpstreamOverloadedError: (529, "overloaded_error"),
    core.UpstreamTimeoutError: (504, "timeout_error"),
}

_BY_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error",
}  # fmt: skip

_encode = msgspec.json.Encoder().encode


def anthropic_error(error: core.GatewayError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in _TABLE:
            return _TABLE[cls]  # type: ignore[index,unused-ignore]
    return 500, "api_error"


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def _reshaped(response: Response, status: int, error_type: str, message: str) -> Response:
    return Response(
        content=_encode(error_body(error_type, message)),
        status_code=status,
        media_type="application/json",
        headers=dict(response.headers),
    )


def handle_gateway_error(request: Request, error: core.GatewayError) -> Response:
    """The gateway's own handler (logging, the request record, headers), Anthropic's body."""
    reference = openai_shaped.handle_gateway_error(request, error)
    status, error_type = anthropic_error(error)
    # The message the reference already carries: scrubbed of every secret.
    message = msgspec.json.decode(reference.content)["error"]["message"]  # type: ignore[arg-type,unused-ignore]
    return _reshaped(reference, status, error_type, message)


def handle_http_error(request: Request, error: HTTPException) -> Response:
    reference = openai_shaped.handle_http_exception(request, error)
    status = reference.status_code or 500
    message = msgspec.json.decode(reference.content)["error"]["message"]  # type: ignore[arg-type,unused-ignore]
    return _reshaped(reference, status, _BY_STATUS.get(status, "api_error"), message)


def handle_unexpected(request: Request, error: Exception) -> Response:
    reference = openai_shaped.handle_unexpected(request, error)  # logs it
    record_of(request.scope).error_code = "internal_error"
    return _reshaped(reference, 500, "api_error", "The gateway failed to handle this request.")

ANTHROPIC_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    core.GatewayError: handle_gateway_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}


def stream_error(error: core.GatewayError) -> tuple[str, str]:
    """(type, message) of the ``error`` event for a failure after the stream began."""
    _, error_type = anthropic_error(error)
    return error_type, openai_shaped.gateway_error_payload(error)[1]["error"]["message"]
