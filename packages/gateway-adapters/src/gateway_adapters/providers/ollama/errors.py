"""Ollama's failures as ``gateway_core.errors``: one table by HTTP status, one by httpx class.

Ollama reports errors as ``{"error": "<text>"}``, with a status before a stream starts and as
a line of its own once one has. That text never reaches a message (messages are shown to
clients); it is attached as a note, so it shows in the logged traceback only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from gateway_adapters.providers.http_errors import retry_after_seconds, status_error
from gateway_core.errors import (
    ProviderError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamOverloadedError,
    UpstreamRateLimitError,
    UpstreamResponseError,
    UpstreamServerError,
    UpstreamTimeoutError,
)

_NOTE_LIMIT = 500

_STATUS_ERRORS: Mapping[int, type[ProviderError]] = {
    400: UpstreamBadRequestError,
    # Ollama answers 404 for a model it has not pulled: the client's model name is wrong.
    404: UpstreamBadRequestError,
    401: UpstreamAuthError,
    403: UpstreamAuthError,
    429: UpstreamRateLimitError,
    # 503 is Ollama's "server busy" when more requests queue than OLLAMA_MAX_QUEUE allows.
    503: UpstreamOverloadedError,
    504: UpstreamTimeoutError,
}

_STATUS_MESSAGES: Mapping[int, str] = {
    400: "{provider} rejected the request as invalid.",
    404: "{provider} has no model named {model!r}: pull it there, or fix the model name.",
    401: "{provider} refused the gateway's credentials.",
    403: "{provider} refused the gateway's credentials.",
    429: "{provider} is rate limiting the gateway.",
    503: "{provider} is busy: too many requests are queued.",
    504: "{provider} timed out.",
}

# Walked along the exception's MRO, so the most specific class wins: ConnectTimeout is a
# TimeoutException before it is a TransportError.
_EXCEPTION_ERRORS: Mapping[type[BaseException], tuple[type[ProviderError], str]] = {
    httpx.TimeoutException: (UpstreamTimeoutError, "did not answer in time"),
    httpx.ConnectError: (UpstreamConnectionError, "could not be reached"),
    httpx.RemoteProtocolError: (UpstreamConnectionError, "broke off the response"),
    httpx.ReadError: (UpstreamConnectionError, "dropped the connection"),
    httpx.WriteError: (UpstreamConnectionError, "dropped the connection"),
    httpx.NetworkError: (UpstreamConnectionError, "connection failed"),
    httpx.ProxyError: (UpstreamConnectionError, "could not be reached through the proxy"),
    httpx.UnsupportedProtocol: (UpstreamConnectionError, "has a base URL that is not http(s)"),
    httpx.DecodingError: (UpstreamResponseError, "sent a body that could not be decoded"),
    httpx.TooManyRedirects: (UpstreamResponseError, "redirected too many times"),
    httpx.HTTPError: (UpstreamConnectionError, "request failed"),
}


def error_from_exception(error: httpx.HTTPError, *, provider: str) -> ProviderError:
    for cls in type(error).__mro__:
        entry = _EXCEPTION_ERRORS.get(cls)
        if entry is not None:
            error_class, what = entry
            return error_class(f"{provider} {what} ({type(error).__name__}).", provider=provider)
    return UpstreamConnectionError(f"{provider} request failed.", provider=provider)


def error_from_status(
    status: int, headers: Mapping[str, str], body: bytes, *, provider: str, model: str
) -> ProviderError:
    """The error for a non-2xx answer; ``model`` is the name the request asked Ollama for."""
    template = _STATUS_MESSAGES.get(status, "{provider} failed with HTTP {status}.")
    error = status_error(
        status,
        provider,
        _STATUS_ERRORS,
        message=template.format(provider=provider, model=model, status=status),
        retry_after=retry_after_seconds(headers),
    )
    _note_upstream_text(error, _error_text(body))
    return error


def error_in_body(upstream_text: Any, *, provider: str) -> ProviderError:
    """The error for ``{"error": ...}`` in a 200 answer or a stream line (no status to go by)."""
    error = UpstreamServerError(f"{provider} reported an error while answering.", provider=provider)
    _note_upstream_text(error, upstream_text if isinstance(upstream_text, str) else None)
    return error


def _error_text(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace") or None
    text = payload.get("error") if isinstance(payload, dict) else None
    return text if isinstance(text, str) else None


def _note_upstream_text(error: ProviderError, text: str | None) -> None:
    if text:
        error.add_note(f"upstream said: {text[:_NOTE_LIMIT]}")
