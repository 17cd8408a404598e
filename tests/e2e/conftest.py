"""The real gateway in front of the fake upstream, configured for all three wire formats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess

# model name clients send -> the vendor dialect that answers it
VENDOR_MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5-20250929",
    "ollama": "llama3.2",
}
UPSTREAM_TIMEOUT_SECONDS = 3.0
OPENAI_KEY = "sk-fake-openai-e2e-key-000"
ANTHROPIC_KEY = "sk-ant-fake-e2e-key-000"
NATIVE_RESPONSES_MODEL = "gpt-5-native"
"""Routed to an OpenAI provider with the Responses API: /v1/responses goes there natively."""


def providers_config(upstream_url: str) -> dict:
    common = {"timeout_seconds": UPSTREAM_TIMEOUT_SECONDS, "connect_timeout_seconds": 1.0}
    return {
        "providers": {
            "fake-openai": {"type": "openai", "base_url": f"{upstream_url}/v1", "requires_api_key": True, **common},
            "fake-anthropic": {"type": "anthropic", "base_url": upstream_url, "requires_api_key": True, **common},
            "fake-ollama": {"type": "ollama", "base_url": upstream_url, **common},
            "fake-openai-responses": {"type": "openai", "base_url": f"{upstream_url}/v1", "requires_api_key": True, "responses_api": True, **common},
            "unkeyed": {"type": "openai", "base_url": f"{upstream_url}/v1", "requires_api_key": True},
            # drop_params in the configuration (issue 12): the provider's, and a route's own.
            "fake-anthropic-lenient": {"type": "anthropic", "base_url": upstream_url, "requires_api_key": True,
                                       "api_key_env": ["LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY"], "drop_params": True, **common},
            "echo": {"type": "echo"},
        },
        "models": {
            "gpt-4o": {"provider": "fake-openai"},
            "o3-mini": {"provider": "fake-openai"},
            "claude-sonnet-4-5-20250929": {"provider": "fake-anthropic"},
            "llama3.2": {"provider": "fake-ollama", "model": "llama3.2:3b"},
            "claude-with-fallback": {
                "provider": "fake-anthropic",
                "model": "claude-opus-4-5",
                "fallbacks": ["gpt-4o"],
            },
            "needs-key": {"provider": "unkeyed"},
            "claude-lenient": {"provider": "fake-anthropic-lenient", "model": "claude-sonnet-4-5-20250929"},
            "claude-lenient-but-strict": {"provider": "fake-anthropic-lenient", "model": "claude-sonnet-4-5-20250929",
                                          "drop_params": False},
            "claude-route-lenient": {"provider": "fake-anthropic", "model": "claude-sonnet-4-5-20250929",
                                     "drop_params": True},
            "echo": {"provider": "echo"},
            NATIVE_RESPONSES_MODEL: {"provider": "fake-openai-responses", "model": "gpt-5"},
            # The doors' native path with fallbacks: one of the same format, then another.
            "claude-fallbacks": {"provider": "fake-anthropic", "model": "claude-opus-4-5",
                                 "fallbacks": ["claude-sonnet-4-5-20250929", "gpt-4o"]},
            "gpt-5-fallbacks": {"provider": "fake-openai-responses", "model": "gpt-5-mini",
                                "fallbacks": [NATIVE_RESPONSES_MODEL, "gpt-4o"]},
            "text-embedding-3-small": {"provider": "fake-openai"},
        },
        "prefixes": {"ollama/": "fake-ollama", "lenient/": "fake-anthropic-lenient"},
        "aliases": {"claude": "claude-sonnet-4-5-20250929"},
    }


@pytest.fixture(scope="session")
def e2e_gateway(
    fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = Path(tmp_path_factory.mktemp("e2e")) / "providers.json"
    config.write_text(json.dumps(providers_config(fake_upstream_server.url)))
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(config),
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "LLM_GATEWAY_FAKE_OPENAI_RESPONSES_API_KEY": OPENAI_KEY,
    }
    with GatewayProcess(env) as gateway:
        yield gateway


@pytest.fixture
def client(e2e_gateway: GatewayProcess, fake_upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{e2e_gateway.url}/v1", api_key="client-key", max_retries=0)
