"""``scrub_secrets``: credential-shaped text goes, the rest of a message stays readable."""

from __future__ import annotations

import pytest

from gateway_core.domain.secrets import REDACTED, scrub_secrets
from gateway_core.errors import UpstreamBadRequestError


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Incorrect API key provided: sk-proj-abcdef1234567890XYZ.", "sk-proj-abcdef1234567890XYZ"),
        ("Authorization: Bearer sk-ant-api03-AAAAAAAAAAAA failed", "sk-ant-api03-AAAAAAAAAAAA"),
        ("Authorization: Bearer opaque.token-value", "opaque.token-value"),
        ('{"x-api-key": "abc123def456"}', "abc123def456"),
        ("api_key=hello12345 rejected", "hello12345"),
        ("access key AKIAABCDEFGHIJKLMNOP is disabled", "AKIAABCDEFGHIJKLMNOP"),
        ("aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"),
        ("key AIzaSyA1234567890abcdefghijklmnopqrstu invalid", "AIzaSyA1234567890abcdefghijklmnopqrstu"),
    ],
)
def test_credential_shapes_are_redacted(text: str, secret: str) -> None:
    scrubbed = scrub_secrets(text)
    assert secret not in scrubbed
    assert REDACTED in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "This model's maximum context length is 128000 tokens.",
        "max_tokens is too large: 999999",
        "messages: text content blocks must be non-empty",
        "The model `gpt-4o-mini-2024-07-18` does not exist",
    ],
)
def test_ordinary_messages_are_unchanged(text: str) -> None:
    assert scrub_secrets(text) == text


def test_a_known_secret_of_any_shape_is_redacted() -> None:
    assert scrub_secrets("echoed plain-key-1234 back", ("plain-key-1234",)) == (
        f"echoed {REDACTED} back"
    )


def test_provider_errors_never_carry_a_key_whichever_adapter_builds_them() -> None:
    error = UpstreamBadRequestError("rejected: Bearer sk-live-0123456789abcdef", provider="p")
    assert "sk-live" not in error.message and "sk-live" not in str(error)
