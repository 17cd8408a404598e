"""Upstream error messages lose every secret before they can reach a client or a log."""

from __future__ import annotations

import pytest

from gateway_adapters.providers.http_errors import status_error
from gateway_core.domain.secrets import REDACTED, scrub_secrets

KEY = "sk-proj-Abc123def456ghi789jkl012mno345"


@pytest.mark.parametrize(
    "text",
    [
        f"Incorrect API key provided: Bearer {KEY}",
        f"header Authorization: Bearer {KEY} is invalid",
        f'{{"api_key": "{KEY}"}}',
        f"x-api-key={KEY}; retry later",
        f"key sk-ant-api03-{'A' * 40} was revoked",
        "AWS says AKIAIOSFODNN7EXAMPLE has no access",
        "Google: AIzaSyA1234567890abcdefghijklmnopqrstuv invalid",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4eHh4eCJ9.c2lnbmF0dXJlMTIz expired",
    ],
)
def test_key_shaped_strings_are_scrubbed(text: str) -> None:
    scrubbed = scrub_secrets(text)
    assert REDACTED in scrubbed
    for secret in (KEY, "AKIAIOSFODNN7EXAMPLE", "AIzaSyA1234567890", "c2lnbmF0dXJlMTIz", "A" * 40):
        assert secret not in scrubbed


def test_a_configured_secret_of_any_shape_is_scrubbed() -> None:
    assert scrub_secrets("your key 9f8e7d6c5b4a is wrong", known=("9f8e7d6c5b4a",)) == (
        f"your key {REDACTED} is wrong"
    )


def test_ordinary_messages_pass_untouched() -> None:
    message = "max_tokens is too large: 100000 > 4096 for model gpt-4o"
    assert scrub_secrets(message) == message


def test_upstream_messages_are_scrubbed_where_they_become_domain_errors() -> None:
    error = status_error(401, "openai", {}, message=f"Bad Bearer {KEY}", retry_after=None)
    assert KEY not in error.message and f"Bearer {REDACTED}" in error.message
