"""HTTP failures of any provider, turned into ``gateway_core.errors`` at the adapter boundary.

Shared by every adapter that talks to its vendor over ``gateway_adapters.http1``. Exceptions
are classified by walking their MRO through one class-to-error table (the most specific class
wins), statuses through each vendor's own table; never by reading message text. Messages
name the provider and the failure's class only: an exception's text can hold a URL, and URLs
can hold keys.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import msgspec

from gateway_adapters import http1
from gateway_core.errors import (
    ProviderError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamResponseError,
    UpstreamServerError,
    UpstreamTimeoutError,
    UpstreamTooLargeError,
)

# Order does not matter: the exception's MRO decides, so TimeoutError (an OSError too) needs
# its own row to count as a timeout.
_TRANSPORT_ERRORS: Mapping[type[BaseException], tuple[type[ProviderError], str]] = {
    http1.ConnectError: (UpstreamConnectionError, "could not connect"),
    http1.ConnectionClosed: (UpstreamConnectionError, "closed the connection"),
    http1.InvalidResponse: (UpstreamResponseError, "sent an invalid response"),
    http1.ResponseTooLarge: (UpstreamTooLargeError, "sent a response larger than the cap"),
    asyncio.TimeoutError: (UpstreamTimeoutError, "timed out"),
    msgspec.DecodeError: (UpstreamResponseError, "sent a body that is not valid JSON"),
    UnicodeDecodeError: (UpstreamResponseError, "sent a body that is not UTF-8"),
    OSError: (UpstreamConnectionError, "connection failed"),
}


TRANSPORT_FAILURES = (OSError, asyncio.TimeoutError, UnicodeDecodeError)
"""What an adapter turns into a ``ProviderError`` with ``transport_error``: failures below HTTP.
Anything else escaping the client is a bug of ours and must stay visible."""


def transport_error(exc: BaseException, provider: str) -> ProviderError:
    """The ProviderError for a failure below HTTP (connect, read, timeout, decode)."""
    if isinstance(exc, ProviderError):
        return exc
    for cls in type(exc).__mro__:
        entry = _TRANSPORT_ERRORS.get(cls)
        if entry is not None:
            error_class, what = entry
            message = f"{provider} {what} ({type(exc).__name__})"
            if isinstance(exc, http1.ResponseTooLarge):
                received = exc.received
                return UpstreamTooLargeError(message, provider=provider, received_bytes=received)
            return error_class(message, provider=provider)
    return UpstreamConnectionError(
        f"{provider} request failed ({type(exc).__name__})", provider=provider
    )


def status_error(
    status: int,
    provider: str,
    table: Mapping[int, type[ProviderError]],
    *,
    message: str,
    retry_after: float | None,
    code: str | None = None,
    param: str | None = None,
) -> ProviderError:
    """The ProviderError for an HTTP error status: the vendor's table, else the status class."""
    error_class = table.get(status)
    if error_class is None:
        if 500 <= status < 600:
            error_class = UpstreamServerError
        elif 400 <= status < 500:
            error_class = UpstreamBadRequestError
        else:
            error_class = UpstreamResponseError
    # ProviderError scrubs the message: vendors quote what they were sent ("Bearer sk-...").
    return error_class(
        message,
        provider=provider,
        status=status,
        code=code,
        param=param,
        retry_after=retry_after,
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date).

    ``retry-after-ms`` is OpenAI's finer-grained variant; the openai SDK prefers it too.
    """
    millis = _seconds(_header(headers, "retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = _header(headers, "retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    return seconds if seconds is not None else _seconds_until(value)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive in any mapping (``http1`` already gives lowercase names)."""
    value = headers.get(name)
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _seconds_until(http_date: str) -> float | None:
    try:
        moment = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means no zone given
        return None
    return max(moment.timestamp() - time.time(), 0.0)
