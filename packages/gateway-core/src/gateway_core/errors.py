"""The one error tree of llm-gateway. Every failure the core knows is one of these::

    GatewayError
    ├── InvalidRequestError             the client's request is wrong (400)
    │   ├── ForbiddenParameterError     a field that would choose the upstream (400)
    │   ├── RequestCapError             over a cap: messages, tools, max output, model name (400)
    │   └── UnsupportedParameterError   a field the provider cannot serve (400)
    ├── AuthenticationError             missing, unknown or malformed client key (401)
    ├── PermissionDeniedError           the key may not do this (403)
    ├── NotFoundError                   (404)
    │   ├── ModelNotFoundError
    │   ├── SessionNotFoundError
    │   ├── ToolNotFoundError
    │   └── ToolItemNotFoundError       a tool's downstream answered 404 ("no such item")
    ├── ConflictError                   (409)
    │   └── SessionBusyError
    ├── ToolArgumentsError              arguments break the tool's JSON Schema (422)
    ├── ToolExecutionError              the tool ran and failed: a result (success false), no status
    ├── RateLimitExceededError          the client is over its limit (429, retry_after)
    ├── BudgetExceededError             the key spent its monthly budget (402: not transient)
    ├── ServiceUnavailableError         a dependency of ours is down (503, retry_after)
    │   ├── ProviderNotConfiguredError  the route's provider has no API key configured
    │   ├── StoreUnavailableError       Redis (or another store) is unreachable
    │   ├── ServerShuttingDownError     the shutdown's grace ended before the answer did
    │   └── ToolUnavailableError        a tool's downstream is down or its circuit is open
    │       ├── ToolTimeoutError        it did not answer in time (504)
    │       └── ToolBadGatewayError     it answered 5xx, a redirect or an unreadable body (502)
    └── ProviderError                   the upstream model vendor failed
        ├── UpstreamBadRequestError     it rejected the request as invalid (400 to the client)
        ├── UpstreamRateLimitError      it rate limited us (429, keeps its retry-after)
        ├── UpstreamOverloadedError     overloaded / 529 / 503 (503)
        │   └── UpstreamCircuitOpenError    every deployment's circuit is open: not called (503)
        ├── UpstreamAuthError           our key for it is wrong (502: not the client's fault)
        ├── UpstreamTimeoutError        (504)
        ├── UpstreamConnectionError     could not connect, or the connection dropped (502)
        ├── UpstreamResponseError       it answered something we cannot parse (502)
        │   └── UpstreamTooLargeError   its answer passed the byte or output cap: cut (502)
        └── UpstreamServerError         any other 5xx (502)

Adapters translate their libraries' exceptions into these at the boundary, by class and
status, never by reading message text. The HTTP shell maps each class to a status and an
OpenAI-shaped body in one table. ``message`` is safe to show a client: it never holds an
upstream body, a key, or a stack trace.
"""

from __future__ import annotations

from gateway_core.domain.secrets import scrub_secrets


class GatewayError(Exception):
    """Base of every error llm-gateway raises on purpose."""

    code: str = "gateway_error"
    retryable: bool = False
    """Whether trying again (or trying a fallback) may succeed."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.retry_after = retry_after


class InvalidRequestError(GatewayError):
    code = "invalid_request"


class ForbiddenParameterError(InvalidRequestError):
    code = "forbidden_parameter"


class RequestCapError(InvalidRequestError):
    """A request over one of the gateway's caps; ``code`` says which, ``param`` names it."""

    code = "request_cap_exceeded"


class UnsupportedParameterError(InvalidRequestError):
    """A request field the chosen provider cannot serve and that would change the answer."""

    code = "unsupported_parameter"


class AuthenticationError(GatewayError):
    code = "invalid_api_key"


class UnknownKeyError(AuthenticationError):
    """The key is not one this process knows (it may be newer than its last key reload)."""


class PermissionDeniedError(GatewayError):
    code = "permission_denied"


class NotFoundError(GatewayError):
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class SessionNotFoundError(NotFoundError):
    code = "session_not_found"


class ToolNotFoundError(NotFoundError):
    code = "tool_not_found"


class ToolItemNotFoundError(NotFoundError):
    code = "tool_item_not_found"


class ConflictError(GatewayError):
    code = "conflict"


class SessionBusyError(ConflictError):
    code = "session_busy"


class ToolArgumentsError(GatewayError):
    code = "invalid_tool_arguments"


class ToolExecutionError(GatewayError):
    """The tool ran and reported a failure (a downstream 4xx other than 404, a local tool
    raised). ``ExecuteTool`` turns it into ``ToolResult(success=False)``: never an HTTP error."""

    code = "tool_execution_failed"


class RateLimitExceededError(GatewayError):
    """``headers``: the ``x-ratelimit-*`` values a 429 carries, like any other response."""

    code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, code=code, param=param, retry_after=retry_after)
        self.headers: dict[str, str] = dict(headers or {})


class BudgetExceededError(GatewayError):
    code = "budget_exceeded"


class ServiceUnavailableError(GatewayError):
    code = "service_unavailable"
    retryable = True


class ProviderNotConfiguredError(ServiceUnavailableError):
    code = "provider_not_configured"


class StoreUnavailableError(ServiceUnavailableError):
    code = "store_unavailable"


class ServerShuttingDownError(ServiceUnavailableError):
    """This process is stopping: its drain deadline passed while the call still ran. Another
    replica can serve the request again; not retried or failed over here."""

    code = "server_shutting_down"
    retryable = False


class ToolUnavailableError(ServiceUnavailableError):
    code = "tool_unavailable"


class ToolTimeoutError(ToolUnavailableError):
    code = "tool_timeout"


class ToolBadGatewayError(ToolUnavailableError):
    code = "tool_bad_gateway"


class ProviderError(GatewayError):
    """The upstream vendor failed. ``provider`` names it; ``status`` is its HTTP status."""

    code = "upstream_error"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        # Vendors quote requests back (headers included): no credential may ride out on the
        # message to a client or a log line, whichever adapter built it.
        message = scrub_secrets(message)
        super().__init__(message, code=code, param=param, retry_after=retry_after)
        self.provider = provider
        self.status = status


class UpstreamBadRequestError(ProviderError):
    code = "upstream_bad_request"
    retryable = False


class UpstreamRateLimitError(ProviderError):
    code = "upstream_rate_limited"


class UpstreamOverloadedError(ProviderError):
    code = "upstream_overloaded"


class UpstreamCircuitOpenError(UpstreamOverloadedError):
    """Not an upstream answer: every deployment of the model failed recently, so none was
    called (``retry_after``: seconds until one may be probed)."""

    code = "upstream_circuit_open"


class UpstreamAuthError(ProviderError):
    code = "upstream_auth_failed"


class UpstreamTimeoutError(ProviderError):
    code = "upstream_timeout"


class UpstreamConnectionError(ProviderError):
    code = "upstream_unreachable"


class UpstreamResponseError(ProviderError):
    code = "upstream_bad_response"


class UpstreamServerError(ProviderError):
    code = "upstream_server_error"


class UpstreamTooLargeError(UpstreamResponseError):
    """The upstream's answer grew past the byte cap or the model's output cap (it ignored
    ``max_tokens``): the rest is not read. Not retried: another try would cost as much.
    ``received_bytes``: what it had sent (or generated, in characters) when it was cut, to
    bill what was generated when no usage was reported."""

    code = "upstream_response_too_large"
    retryable = False

    def __init__(self, message: str, *, provider: str = "", received_bytes: int = 0) -> None:
        super().__init__(message, provider=provider)
        self.received_bytes = received_bytes
