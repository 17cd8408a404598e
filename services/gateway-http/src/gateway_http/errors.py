"""One table from the core's error tree to HTTP: a status and an OpenAI-shaped body.

Every error a client sees is ``{"error": {"message", "type", "code", "param"}}``; stack traces
and upstream bodies go to the log only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from gateway_core import errors as core
from gateway_core.domain.secrets import scrub_secrets
from gateway_http.request_record import record_of

log = logging.getLogger("gateway_http.errors")

PROVIDER_SECRETS = "provider_secrets"
"""App state: the configured provider keys, scrubbed from every error a client sees."""

# class -> (status, OpenAI error type); looked up along the exception's MRO, most specific first.
_TABLE: dict[type[core.GatewayError], tuple[int, str]] = {
    core.InvalidRequestError: (400, "invalid_request_error"),
    core.AuthenticationError: (401, "authentication_error"),
    core.PermissionDeniedError: (403, "permission_error"),
    core.NotFoundError: (404, "not_found_error"),
    core.ConflictError: (409, "conflict_error"),
    core.ToolArgumentsError: (422, "invalid_request_error"),
    core.RateLimitExceededError: (429, "rate_limit_error"),
    core.BudgetExceededError: (402, "insufficient_quota"),
    core.ServiceUnavailableError: (503, "service_unavailable_error"),
    core.ToolTimeoutError: (504, "timeout_error"),
    core.ToolBadGatewayError: (502, "upstream_error"),
    core.ProviderError: (502, "upstream_error"),
    core.UpstreamBadRequestError: (400, "invalid_request_error"),
    core.UpstreamRateLimitError: (429, "rate_limit_error"),
    core.UpstreamOverloadedError: (503, "service_unavailable_error"),
    core.UpstreamTimeoutError: (504, "timeout_error"),
}

_HTTP_CODES = {
    400: ("invalid_request_error", "bad_request"),
    401: ("authentication_error", "unauthorized"),
    402: ("insufficient_quota", "payment_required"),
    403: ("permission_error", "forbidden"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}

_encode = msgspec.json.Encoder().encode


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


def status_and_type(error: core.GatewayError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in _TABLE:
            return _TABLE[cls]
    return 500, "internal_error"


def client_message(error: core.GatewayError, secrets: Iterable[str] = ()) -> str:
    """The error's message as a client may see it: no secret (upstream messages quote what
    they were sent), whoever raised it."""
    return scrub_secrets(error.message, tuple(secrets))


def gateway_error_payload(
    error: core.GatewayError, secrets: Iterable[str] = ()
) -> tuple[int, dict[str, Any], dict[str, str]]:
    status, type_ = status_and_type(error)
    headers = dict(getattr(error, "headers", None) or {})
    if error.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(error.retry_after)))
    elif status in (502, 503, 504):
        headers["retry-after"] = "1"
    message = client_message(error, secrets)
    return status, error_body(message, type_, error.code, error.param), headers


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=_encode(body), status_code=status, media_type="application/json", headers=headers
    )


def handle_gateway_error(request: Request, error: core.GatewayError) -> Response:
    secrets = request.app.state.get(PROVIDER_SECRETS, ())
    status, body, headers = gateway_error_payload(error, secrets)
    record = record_of(request.scope)
    admitted = record.rate_limit_headers()
    if admitted:
        headers = {**admitted, **headers}
    record.error_code = error.code
    record.rate_limited = isinstance(error, core.RateLimitExceededError)
    if status >= 500:
        log.warning(
            "request failed: %s (%s)", type(error).__name__, error.code, exc_info=error.__cause__
        )
    return _json(status, body, headers)


def handle_http_exception(request: Request, error: HTTPException) -> Response:
    status = error.status_code
    if status >= 500:
        # Litestar's own 500s (a dependency it cannot validate, say) are bugs: keep the cause.
        log.error("request failed on %s %s", request.method, request.url.path, exc_info=error)
    type_, code = _HTTP_CODES.get(status, ("internal_error", "internal_error"))
    message = error.detail if status < 500 else "The gateway failed to handle this request."
    if status == 404 and message == "Not Found":
        message = f"No route for {request.method} {request.url.path}."
    if status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    headers = getattr(error, "headers", None) or None
    named = _invalid_parameter(error) if isinstance(error, ValidationException) else None
    if named is not None:
        param, message = named
        return _json(status, error_body(message, type_, "invalid_request", param), headers)
    return _json(status, error_body(message, type_, code), headers)


def _invalid_parameter(error: ValidationException) -> tuple[str, str] | None:
    """The parameter Litestar could not convert (a query or path parameter of a route's
    signature), and a message naming it; ``None`` when Litestar named none. Its own message
    names only the method and the whole URL, query string and all."""
    found = error.extra[0] if isinstance(error.extra, list) and error.extra else None
    if not isinstance(found, dict) or not isinstance(found.get("key"), str):
        return None
    key, source = found["key"], found.get("source") or "request"
    source = getattr(source, "value", source)  # Litestar's ``ParamType`` is an enum
    reason = str(found.get("message") or "invalid value").rstrip(".")
    return key, f"Invalid {source} parameter '{key}': {reason}."


def handle_unexpected(request: Request, error: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    message = "The gateway failed to handle this request."
    body = error_body(message, "internal_error", "internal_error")
    return _json(500, body)


EXCEPTION_HANDLERS = {
    core.GatewayError: handle_gateway_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
