"""One way of reporting a bad config input: the source, the entry, the field, never a value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway_adapters.auth import KeyFileError, load_keys_file, parse_keys_env
from gateway_adapters.config.validation import ConfigFileError
from gateway_adapters.pricing_file import parse_price_table
from gateway_adapters.tools import build_tools
from gateway_core.domain.api_keys import hash_secret
from gateway_core.testing import FakeClock
from gateway_http.provider_config import ConfigError, load_gateway_config

SECRET = "sk-gw-pasted-by-mistake-0123456789abcdefghijkl"
HASH = hash_secret("sk-gw-fine")


def _providers(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    load_gateway_config(path)


def _tools(document: Any) -> None:
    build_tools(
        document, settings={}, client=httpx.AsyncClient(), clock=FakeClock(), source="tools.json"
    )


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (
            lambda tmp: _providers(tmp, {"providers": {"local": {"type": "echo", "x": 1}}}),
            "providers.json: providers['local']: unknown field 'x'",
        ),
        (
            lambda tmp: _tools({"backends": {"svc": {"kind": "grpc"}}, "tools": []}),
            "tools.json: backends['svc']: 'kind' must be 'http' or 'local'",
        ),
        (
            lambda tmp: parse_price_table({"models": {"m": {"input": 1}}}, origin="pricing.json"),
            "pricing.json: models['m']: 'output' is required",
        ),
        (
            lambda tmp: parse_keys_env(
                json.dumps([{"id": "ci", "name": "CI", "sha256": HASH, "admin": 1}])
            ),
            "LLM_GATEWAY_API_KEYS: entry 1 (id 'ci'): 'admin' must be true or false",
        ),
    ],
    ids=["providers", "tools", "pricing", "keys"],
)
def test_every_config_input_names_the_source_the_entry_and_the_field(
    tmp_path: Path, load: Any, expected: str
) -> None:
    with pytest.raises(ConfigFileError) as raised:
        load(tmp_path)
    assert expected in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_every_mistake_is_reported_one_per_line(tmp_path: Path) -> None:
    document = {
        "providers": {"local": {"type": "echo", "timeout_seconds": 0}},
        "models": {"m": {"model": "x"}},
    }
    with pytest.raises(ConfigError) as raised:
        _providers(tmp_path, document)
    lines = str(raised.value).splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "providers['local']: 'timeout_seconds' must be greater than 0",
        "models['m']: 'provider' is required",
    ]
    assert all(line.startswith(str(tmp_path / "providers.json")) for line in lines)


@pytest.mark.parametrize(
    "entry",
    [
        {"id": "a", "name": "A", "sha256": SECRET},
        {"id": "a", "name": "A", "sha256": HASH, "secret": SECRET},
        {"id": "a", "name": "A", "sha256": HASH, "notes": SECRET},
        {"id": SECRET, "name": "A", "sha256": HASH, "monthly_budget_usd": -1},
        {"id": "a", "name": "A", "sha256": HASH, "allowed_models": SECRET},
        {"id": "a", "name": "A", "sha256": HASH, "requests_per_minute": SECRET},
        {"id": "a", "name": ["A", SECRET], "sha256": HASH},
        {"id": "a", "name": "A", "sha256": HASH, "admin": SECRET},
    ],
)
def test_a_bad_key_entry_never_shows_the_secret_in_it(tmp_path: Path, entry: Any) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [entry]}), encoding="utf-8")
    with pytest.raises(KeyFileError) as raised:
        load_keys_file(path)
    message = str(raised.value)
    assert message.startswith(f"keys file {path}: entry 1")
    assert SECRET not in message and "sk-gw" not in message


def test_a_provider_header_value_never_appears_in_the_error(tmp_path: Path) -> None:
    provider = {"type": "openai", "headers": {"Authorization": ["Bearer", SECRET]}}
    with pytest.raises(ConfigError) as raised:
        _providers(tmp_path, {"providers": {"upstream": provider}})
    assert "providers['upstream']: 'headers.Authorization' must be a valid string" in str(
        raised.value
    )
    assert SECRET not in str(raised.value)
