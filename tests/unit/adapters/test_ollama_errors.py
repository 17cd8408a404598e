"""Ollama's error tables: HTTP statuses and httpx exceptions to gateway errors. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from gateway_adapters.providers.ollama.errors import (
    error_from_exception,
    error_from_status,
    error_in_body,
)
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


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, UpstreamBadRequestError),
        (404, UpstreamBadRequestError),
        (401, UpstreamAuthError),
        (403, UpstreamAuthError),
        (429, UpstreamRateLimitError),
        (500, UpstreamServerError),
        (502, UpstreamServerError),
        (503, UpstreamOverloadedError),
        (504, UpstreamTimeoutError),
        (422, UpstreamBadRequestError),
        (302, UpstreamResponseError),
    ],
)
def test_status_table(status: int, error_class: type[ProviderError]) -> None:
    error = error_from_status(status, httpx.Headers(), b"", provider="ollama", model="m")

    assert type(error) is error_class
    assert (error.status, error.provider) == (status, "ollama")


def test_404_says_the_model_is_missing_and_keeps_ollamas_words_out() -> None:
    body = b'{"error": "model \\"qwen3.5-9b\\" not found, try pulling it first"}'

    error = error_from_status(404, httpx.Headers(), body, provider="ollama", model="qwen3.5-9b")

    assert "'qwen3.5-9b'" in error.message and "model" in error.message
    assert "try pulling" not in error.message
    assert error.__notes__ == ['upstream said: model "qwen3.5-9b" not found, try pulling it first']


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after": "soon"}, None), ({}, None)],
)
def test_retry_after_from_header(headers: dict[str, str], expected: float | None) -> None:
    error = error_from_status(429, httpx.Headers(headers), b"", provider="o", model="m")

    assert error.retry_after == expected


def test_retry_after_as_an_http_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)

    headers = httpx.Headers({"Retry-After": later})

    error = error_from_status(429, headers, b"", provider="o", model="m")

    assert error.retry_after is not None and 25 <= error.retry_after <= 30


class _ResetByPeer(httpx.ReadError):
    """A subclass the table does not list: its MRO still leads to a row."""


@pytest.mark.parametrize(
    ("exception", "error_class"),
    [
        (httpx.ConnectTimeout("t"), UpstreamTimeoutError),
        (httpx.ReadTimeout("t"), UpstreamTimeoutError),
        (httpx.PoolTimeout("t"), UpstreamTimeoutError),
        (httpx.ConnectError("refused"), UpstreamConnectionError),
        (httpx.RemoteProtocolError("peer closed"), UpstreamConnectionError),
        (_ResetByPeer("reset"), UpstreamConnectionError),
        (httpx.UnsupportedProtocol("ftp"), UpstreamConnectionError),
        (httpx.DecodingError("gzip"), UpstreamResponseError),
        (httpx.TooManyRedirects("loop"), UpstreamResponseError),
    ],
)
def test_exception_table(exception: httpx.HTTPError, error_class: type[ProviderError]) -> None:
    error = error_from_exception(exception, provider="ollama")

    assert type(error) is error_class
    assert error.provider == "ollama"


def test_exception_text_stays_out_of_the_message() -> None:
    error = error_from_exception(httpx.ConnectError("http://user:secret@host"), provider="o")

    assert "secret" not in error.message


def test_error_in_body_ignores_a_non_text_error() -> None:
    error = error_in_body({"nested": True}, provider="o")

    assert type(error) is UpstreamServerError
    assert not getattr(error, "__notes__", [])
