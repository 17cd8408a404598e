"""What the operational-controls tests (auth, rate limits, cache, cost) share.

Each test file runs its own gateways on its own Redis database (``redis_db``), flushed once at
the start, so that its counters, cache entries and usage totals are its own; other suites use
database 15. Client keys are made the way ``llm-gateway keys create`` makes them: the gateway
only ever sees their SHA-256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import redis

from gateway_adapters.auth.key_file import create_key, key_to_entry
from tests.support.fake_upstream.anthropic_wire import request_body_problem

CHAT = "/v1/chat/completions"
USAGE = "/v1/usage"
PRICED_MODEL = "gpt-4o"
"""Routed to the fake OpenAI upstream and priced in config/pricing.json."""
OTHER_PRICED_MODEL = "claude-sonnet-4-5-20250929"
"""Routed to the fake Anthropic upstream, also priced."""
LOCAL_MODEL = "echo"
"""Answered in the gateway's process: no upstream call (fast enough for bursts)."""
OPENAI_PROVIDER_KEY_VARIABLE = "LLM_GATEWAY_FAKE_OPENAI_API_KEY"
ANTHROPIC_PROVIDER_KEY_VARIABLE = "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY"
REPO_ROOT = Path(__file__).resolve().parents[2]
PRICING = REPO_ROOT / "config" / "pricing.json"


@dataclass(frozen=True)
class ClientKey:
    """A client key for the tests: its id, its secret, and its keys-file entry (hash only)."""

    id: str
    secret: str
    entry: dict[str, Any]

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


def client_key(key_id: str, **options: Any) -> ClientKey:
    secret, key = create_key(key_id, key_id=key_id, **options)
    return ClientKey(key_id, secret, key_to_entry(key))


def keys_env(*keys: ClientKey) -> dict[str, str]:
    """Authentication on, the keys given (as hashes) in ``LLM_GATEWAY_API_KEYS``."""
    return {
        "LLM_GATEWAY_AUTH_ENABLED": "true",
        "LLM_GATEWAY_API_KEYS": json.dumps([key.entry for key in keys]),
    }


def providers_file(directory: Path, upstream_url: str, extra_models: dict | None = None) -> Path:
    """A providers.json routing the priced models to the fake upstream, plus the echo model.

    ``extra_models``: model name -> OpenAI-compatible base URL, one provider each."""
    # The fake Anthropic upstream builds its request validator on first use (a second or two).
    request_body_problem({"model": OTHER_PRICED_MODEL, "max_tokens": 1, "messages": []})
    common = {"timeout_seconds": 10.0, "connect_timeout_seconds": 1.0, "requires_api_key": True}
    config = {
        "providers": {
            "echo": {"type": "echo"},
            "fake-openai": {"type": "openai", "base_url": f"{upstream_url}/v1", **common},
            "fake-anthropic": {"type": "anthropic", "base_url": upstream_url, **common},
        },
        "models": {
            LOCAL_MODEL: {"provider": "echo"},
            PRICED_MODEL: {"provider": "fake-openai"},
            "gpt-4o-mini": {"provider": "fake-openai"},
            OTHER_PRICED_MODEL: {"provider": "fake-anthropic"},
        },
    }
    for index, (model, base_url) in enumerate((extra_models or {}).items()):
        provider = {**common, "type": "openai", "base_url": base_url, "requires_api_key": False}
        config["providers"][f"extra-{index}"] = provider
        config["models"][model] = {"provider": f"extra-{index}"}
    path = directory / "providers.json"
    path.write_text(json.dumps(config))
    return path


def redis_db(redis_url: str, db: int) -> str:
    """``redis_url`` pointed at database ``db`` (a test file's own), flushed."""
    parsed = urlparse(redis_url)
    url = urlunparse(parsed._replace(path=f"/{db}"))
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


def expected_cost(model: str, prompt: int, completion: int, cached: int = 0) -> str:
    """The cost in USD, as the header writes it, computed straight from config/pricing.json."""
    prices = json.loads(PRICING.read_text(), parse_float=Decimal)["models"][model]
    cached_price = prices.get("cached_input", prices["input"])
    uncached = prompt - cached
    total = uncached * prices["input"] + cached * cached_price + completion * prices["output"]
    text = f"{total / 1_000_000:.10f}".rstrip("0").rstrip(".")
    return text or "0"


def user_message(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]
