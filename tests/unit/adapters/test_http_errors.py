"""The HTTP failure helpers every provider adapter on ``gateway_adapters.http1`` shares."""

from __future__ import annotations

import email.utils
import time

import msgspec
import pytest

from gateway_adapters import http1
from gateway_adapters.providers.http_errors import (
    retry_after_seconds,
    status_error,
    transport_error,
)
from gateway_core.errors import (
    ProviderError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamRateLimitError,
    UpstreamResponseError,
    UpstreamServerError,
    UpstreamTimeoutError,
)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError(), UpstreamTimeoutError),  # asyncio.TimeoutError since 3.11
        (http1.ConnectError("could not connect"), UpstreamConnectionError),
        (http1.ConnectionClosed("closed mid-response"), UpstreamConnectionError),
        (http1.InvalidResponse("not HTTP"), UpstreamResponseError),
        (ConnectionResetError(104, "Connection reset by peer"), UpstreamConnectionError),
        (ConnectionRefusedError(111, "refused"), UpstreamConnectionError),
        (msgspec.DecodeError("truncated"), UpstreamResponseError),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), UpstreamResponseError),
        (RuntimeError("something else"), UpstreamConnectionError),
    ],
)
def test_transport_errors_by_class(exc: BaseException, expected: type[ProviderError]) -> None:
    error = transport_error(exc, "openai")

    assert type(error) is expected
    assert error.provider == "openai"


def test_a_transport_error_never_repeats_the_exception_text() -> None:
    exc = http1.ConnectError("https://generativelanguage.example/v1?key=sk-secret-123")

    error = transport_error(exc, "gemini")

    assert "sk-secret" not in str(error)
    assert "ConnectError" in str(error)


def test_a_provider_error_passes_through_unchanged() -> None:
    original = UpstreamRateLimitError("slow down", provider="openai", retry_after=3)

    assert transport_error(original, "openai") is original


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, UpstreamRateLimitError),  # from the table
        (418, UpstreamBadRequestError),  # unlisted 4xx
        (599, UpstreamServerError),  # unlisted 5xx
        (302, UpstreamResponseError),  # a redirect we do not follow
    ],
)
def test_status_errors(status: int, expected: type[ProviderError]) -> None:
    error = status_error(
        status, "anthropic", {429: UpstreamRateLimitError}, message="m", retry_after=2.5, code="c"
    )

    assert type(error) is expected
    assert (error.status, error.provider, error.retry_after, error.code) == (
        status,
        "anthropic",
        2.5,
        "c",
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_in_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    in_thirty_seconds = email.utils.formatdate(time.time() + 30, usegmt=True)

    seconds = retry_after_seconds({"retry-after": in_thirty_seconds})

    assert seconds is not None and 28 <= seconds <= 30


def test_retry_after_a_date_in_the_past_is_now() -> None:
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
