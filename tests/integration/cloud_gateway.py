"""The real gateway in front of the fake upstream's cloud dialects (Azure OpenAI, Bedrock, the
Gemini API, Vertex AI with Gemini and Claude), with fake credentials for each chain: shared by
the openai-SDK and anthropic-SDK tests of the cloud providers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_upstream import FakeUpstream, azure_wire, bedrock_wire, gemini_wire
from tests.support.gateway import GatewayProcess

OPENAI_KEY = "sk-cloud-reference-0123456789"
VERTEX_PATH = "/v1/projects/fake-project/locations/us-central1/publishers/google"
MODELS = {
    "openai": "gpt-4o",
    "azure": "azure/gpt-4o",
    "azure-entra": "azure-entra/gpt-4o",
    "azure-msi": "azure-msi/gpt-4o",
    "gemini": "gemini/gemini-2.5-flash",
    "vertex": "vertex_ai/gemini-2.5-pro",
    "vertex-claude": "vertex_ai/claude-sonnet-4-5@20250929",
    "bedrock": "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
}
CLOUDS = [name for name in MODELS if name != "openai"]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


def _providers(upstream: str) -> dict[str, Any]:
    common = {"timeout_seconds": 10.0, "connect_timeout_seconds": 1.0, "requires_api_key": True}
    return {
        "providers": {
            "openai": {"type": "openai", "base_url": f"{upstream}/v1", **common},
            "azure": {
                "type": "azure",
                "base_url": upstream,
                "settings": {"api_version": "2024-10-21"},
                "deployments": {
                    "gpt-4o": "prod-gpt4o",
                    "text-embedding-3-small": "embed",
                    "gpt-4o-v1": {"deployment": "gpt4o-next", "api_version": "v1"},
                },
                **common,
            },
            "azure-entra": {
                "type": "azure",
                "base_url": upstream,
                "credentials_env": ["AZURE_CLIENT_SECRET"],
                "settings": {"api_version": "v1", "authority_host": upstream},
                "settings_env": {
                    "tenant_id": "AZURE_TENANT_ID",
                    "client_id": "AZURE_CLIENT_ID",
                    "client_secret": "AZURE_CLIENT_SECRET",
                },
                **common,
            },
            "azure-msi": {
                "type": "azure",
                "base_url": upstream,
                "credentials_env": ["IDENTITY_ENDPOINT"],
                "settings_env": {
                    "identity_endpoint": "IDENTITY_ENDPOINT",
                    "identity_header": "IDENTITY_HEADER",
                },
                **common,
            },
            "gemini": {"type": "gemini", "base_url": f"{upstream}/v1beta", **common},
            "bedrock": {
                "type": "bedrock",
                "base_url": upstream,
                "credentials_env": ["AWS_ACCESS_KEY_ID"],
                "settings_env": {"region": "AWS_REGION"},
                **common,
            },
            "bedrock-guarded": {
                "type": "bedrock",
                "base_url": upstream,
                "credentials_env": ["AWS_ACCESS_KEY_ID"],
                "settings": {
                    "region": "eu-central-1",
                    "guardrail_id": "gr-0123abcd",
                    "guardrail_version": "3",
                    "guardrail_trace": "enabled",
                },
                **common,
            },
            "vertex-unconfigured": {
                "type": "vertex_ai",
                "credentials_env": ["LLM_GATEWAY_TEST_UNSET_CREDENTIALS"],
                **common,
            },
            "vertex_ai": {
                "type": "vertex_ai",
                "base_url": f"{upstream}{VERTEX_PATH}",
                "credentials_env": ["GOOGLE_APPLICATION_CREDENTIALS"],
                "settings_env": {"credentials_file": "GOOGLE_APPLICATION_CREDENTIALS"},
                **common,
            },
        },
        "models": {
            "gpt-4o": {"provider": "openai"},
            "gemini-2.5-flash": {"provider": "gemini"},
            "vertex-pro": {"provider": "vertex_ai", "model": "gemini-2.5-pro"},
            "azure-gpt-4o": {"provider": "azure-entra", "model": "gpt-4o"},
            "vertex-elsewhere": {"provider": "vertex-unconfigured", "model": "gemini-2.5-pro"},
        },
        "prefixes": {
            f"{name}/": name
            for name in (
                "azure", "azure-entra", "azure-msi", "gemini", "vertex_ai", "bedrock",
                "bedrock-guarded",
            )
        },
    }


@pytest.fixture(scope="module")
def cloud_gateway(
    fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    directory = tmp_path_factory.mktemp("clouds")
    config = directory / "providers.json"
    config.write_text(json.dumps(_providers(fake_upstream_server.url)))
    key_file = directory / "service-account.json"
    key_file.write_text(
        json.dumps(gemini_wire.service_account_info(f"{fake_upstream_server.url}/token"))
    )
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(config),
        "LLM_GATEWAY_LOG_LEVEL": "debug",
        "LLM_GATEWAY_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_AZURE_API_KEY": azure_wire.AZURE_KEY,
        "LLM_GATEWAY_GEMINI_API_KEY": gemini_wire.GEMINI_KEY,
        "AZURE_TENANT_ID": azure_wire.TENANT,
        "AZURE_CLIENT_ID": azure_wire.CLIENT_ID,
        "AZURE_CLIENT_SECRET": azure_wire.CLIENT_SECRET,
        "IDENTITY_ENDPOINT": f"{fake_upstream_server.url}{azure_wire.MANAGED_IDENTITY_PATH}",
        "IDENTITY_HEADER": azure_wire.IDENTITY_HEADER,
        "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
        # botocore's chain, from the environment only: no files, no instance metadata.
        "AWS_ACCESS_KEY_ID": bedrock_wire.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": bedrock_wire.SECRET_KEY,
        "AWS_SESSION_TOKEN": bedrock_wire.SESSION_TOKEN,
        "AWS_REGION": "eu-central-1",
        "AWS_CONFIG_FILE": str(directory / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(directory / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    # Tokens that live less than the refresh margins (Entra's 300 s, google-auth's 225 s):
    # every call through this gateway refreshes first, so every test here also runs the
    # refresh path in the real process, and the logs test sees refreshed tokens too.
    lifetimes = azure_wire.TOKENS.expires_in, gemini_wire.TOKENS.expires_in
    azure_wire.TOKENS.expires_in, gemini_wire.TOKENS.expires_in = 240, 120
    try:
        with GatewayProcess(env) as process:
            yield process
    finally:
        azure_wire.TOKENS.expires_in, gemini_wire.TOKENS.expires_in = lifetimes


