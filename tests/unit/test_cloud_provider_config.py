"""The cloud providers' configuration: credential chains make them usable, settings come from
the file with the environment's overrides, and no secret shows in a resolved provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway_http.provider_config import (
    ConfigError,
    load_gateway_config,
    resolve_providers,
)
from gateway_http.wiring.cloud_providers import _google_credentials
from gateway_http.wiring.provider_factory import unconfigured_providers

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "providers.json"


def test_without_credentials_no_cloud_provider_is_usable() -> None:
    resolved = resolve_providers(load_gateway_config(SHIPPED), {})

    assert not [
        name for name in ("azure", "bedrock", "gemini", "vertex_ai") if resolved[name].usable
    ]


@pytest.mark.parametrize(
    ("variable", "provider"),
    [
        ("AZURE_OPENAI_API_KEY", "azure"),
        ("AZURE_CLIENT_SECRET", "azure"),
        ("AWS_ACCESS_KEY_ID", "bedrock"),
        ("AWS_PROFILE", "bedrock"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "bedrock"),
        ("GEMINI_API_KEY", "gemini"),
        ("GOOGLE_APPLICATION_CREDENTIALS", "vertex_ai"),
        ("GOOGLE_CLOUD_PROJECT", "vertex_ai"),
    ],
)
def test_one_variable_of_a_credential_chain_makes_its_provider_usable(
    variable: str, provider: str
) -> None:
    resolved = resolve_providers(load_gateway_config(SHIPPED), {variable: "set"})

    assert resolved[provider].usable


def test_settings_take_the_environment_s_overrides_and_hide_in_repr() -> None:
    environ = {
        "AZURE_CLIENT_SECRET": "entra-secret-that-must-not-show",
        "AZURE_OPENAI_API_VERSION": "2025-01-01-preview",
        "AWS_REGION": "eu-west-3",
        "GOOGLE_CLOUD_LOCATION": "europe-west4",
    }
    resolved = resolve_providers(load_gateway_config(SHIPPED), environ)

    assert resolved["azure"].settings["api_version"] == "2025-01-01-preview"
    assert resolved["bedrock"].settings["region"] == "eu-west-3"
    assert resolved["vertex_ai"].settings["location"] == "europe-west4"
    assert "entra-secret" not in repr(resolved["azure"])


def test_missing_google_credentials_file_is_a_config_error_naming_the_setting(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        _google_credentials({"credentials_file": str(tmp_path / "absent.json")})


def test_an_unconfigured_cloud_provider_names_its_credential_variables() -> None:
    missing = unconfigured_providers(resolve_providers(load_gateway_config(SHIPPED), {}))

    assert "AWS_ACCESS_KEY_ID" in missing["bedrock"]
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in missing["bedrock"]
    assert "AZURE_OPENAI_API_KEY" in missing["azure"] and "AZURE_CLIENT_SECRET" in missing["azure"]
    assert "GOOGLE_APPLICATION_CREDENTIALS" in missing["vertex_ai"]
