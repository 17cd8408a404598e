"""Client keys: the ``ApiKey`` value, and ``Authenticator`` over every header form and failure."""

from __future__ import annotations

import hashlib

import pytest

from gateway_core.domain.api_keys import ApiKey, hash_secret, new_secret
from gateway_core.domain.money import Money
from gateway_core.errors import AuthenticationError, PermissionDeniedError
from gateway_core.use_cases.authenticate import (
    INVALID_KEY,
    MALFORMED_AUTHORIZATION,
    MISSING_KEY,
    Authenticator,
)
from gateway_core.use_cases.rate_limit import RateLimits

SECRET = "sk-gw-canary-0123456789abcdefghijklmnopqrstuvwxyz"
OTHER_SECRET = "sk-gw-other-zyxwvutsrqponmlkjihgfedcba9876543210"


def key(key_id: str = "team-a", secret: str = SECRET, **fields: object) -> ApiKey:
    return ApiKey(id=key_id, name=f"Team {key_id}", sha256=hash_secret(secret), **fields)


@pytest.fixture
def authenticator() -> Authenticator:
    return Authenticator([key(), key("team-b", OTHER_SECRET)])


def test_hash_secret_is_hex_sha256_of_utf8() -> None:
    assert hash_secret("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert hash_secret("clé") == hashlib.sha256("clé".encode()).hexdigest()


def test_new_secret_is_prefixed_random_and_long() -> None:
    secrets_made = {new_secret() for _ in range(50)}
    assert len(secrets_made) == 50
    assert all(s.startswith("sk-gw-") and len(s) >= 6 + 43 for s in secrets_made)


def test_api_key_repr_leaves_out_the_hash() -> None:
    assert hash_secret(SECRET) not in repr(key())


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"id": "has space"}, "'id'"),
        ({"id": "{brace}"}, "'id'"),
        ({"sha256": SECRET}, "'sha256'"),
        ({"sha256": hash_secret(SECRET).upper()}, "'sha256'"),
        ({"requests_per_minute": 0}, "'requests_per_minute'"),
        ({"tokens_per_minute": -5}, "'tokens_per_minute'"),
        ({"tokens_per_minute": 1.5}, "'tokens_per_minute'"),
        ({"monthly_budget_usd": Money.usd(-1)}, "'monthly_budget_usd'"),
        ({"allowed_models": ["gpt-4o"]}, "'allowed_models'"),
    ],
)
def test_api_key_refuses_bad_fields_naming_the_field_only(
    fields: dict[str, object], named: str
) -> None:
    values: dict[str, object] = {"id": "k", "name": "K", "sha256": hash_secret(SECRET), **fields}
    with pytest.raises(ValueError, match=named) as caught:
        ApiKey(**values)  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)


def test_bearer_header_authenticates(authenticator: Authenticator) -> None:
    assert authenticator.authenticate(f"Bearer {SECRET}", None).id == "team-a"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_bearer_scheme_is_case_insensitive(authenticator: Authenticator, scheme: str) -> None:
    assert authenticator.authenticate(f"  {scheme}   {SECRET} ", None).id == "team-a"


def test_x_api_key_authenticates(authenticator: Authenticator) -> None:
    assert authenticator.authenticate(None, OTHER_SECRET).id == "team-b"


def test_bearer_wins_over_x_api_key(authenticator: Authenticator) -> None:
    assert authenticator.authenticate(f"Bearer {SECRET}", OTHER_SECRET).id == "team-a"


def test_other_authorization_scheme_defers_to_x_api_key(authenticator: Authenticator) -> None:
    assert authenticator.authenticate("Basic dXNlcjpwYXNz", OTHER_SECRET).id == "team-b"


@pytest.mark.parametrize(
    ("authorization", "x_api_key", "message"),
    [
        (None, None, MISSING_KEY),
        ("", None, MISSING_KEY),
        ("Bearer", None, MALFORMED_AUTHORIZATION),
        ("Bearer    ", None, MALFORMED_AUTHORIZATION),
        (f"Basic {SECRET}", None, MALFORMED_AUTHORIZATION),
        (SECRET, None, MALFORMED_AUTHORIZATION),
        (f"Bearer {SECRET}x", None, INVALID_KEY),
        (f"Bearer {SECRET[:-1]}", None, INVALID_KEY),
        (None, "", INVALID_KEY),
        (None, f"{SECRET}\x00", INVALID_KEY),
        (None, SECRET + "a" * 600, INVALID_KEY),
        (f"Bearer {hash_secret(SECRET)}", None, INVALID_KEY),
    ],
)
def test_each_failure_is_401_without_the_key_in_it(
    authenticator: Authenticator, authorization: str | None, x_api_key: str | None, message: str
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        authenticator.authenticate(authorization, x_api_key)
    error = caught.value
    assert error.message == message
    assert error.code == "invalid_api_key"
    for text in (str(error), repr(error), error.message, repr(error.args)):
        assert SECRET not in text
        assert SECRET[:20] not in text


def test_duplicate_ids_or_hashes_are_refused() -> None:
    with pytest.raises(ValueError, match="id 'team-a'"):
        Authenticator([key(), key(secret=OTHER_SECRET)])
    with pytest.raises(ValueError, match="share a hash"):
        Authenticator([key(), key("team-b")])


def test_a_key_without_allowed_models_may_use_any(authenticator: Authenticator) -> None:
    authenticator.authorize_model(key(), "anything/at-all")


def test_allowed_models_match_exact_names_and_globs(authenticator: Authenticator) -> None:
    limited = key(allowed_models=("gpt-4o", "claude-*", "ollama/qwen?"))
    for model in ("gpt-4o", "claude-sonnet-4-5-20250929", "ollama/qwen3"):
        authenticator.authorize_model(limited, model)
    for model in ("gpt-4o-mini", "gpt-4", "xclaude-1", "ollama/qwen35", "GPT-4o"):
        with pytest.raises(PermissionDeniedError) as caught:
            authenticator.authorize_model(limited, model)
        assert caught.value.param == "model"
        assert model in caught.value.message


def test_rate_limits_take_the_keys_own_values_over_defaults() -> None:
    defaults = RateLimits(requests_per_minute=60, tokens_per_minute=1000)
    assert defaults.for_key(key()) == defaults
    assert defaults.for_key(key(requests_per_minute=5)) == RateLimits(5, 1000)
    assert RateLimits().for_key(key(tokens_per_minute=7)) == RateLimits(None, 7)
