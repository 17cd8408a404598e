"""providers.json's retry, health and deployments: parsed, merged in order, refused by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway_core.domain.resilience import HealthSettings, RetrySettings
from gateway_core.domain.routing import Target
from gateway_http.provider_config import ConfigError, load_gateway_config, routing_table

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "providers.json"


def _load(tmp_path: Path, document: dict[str, Any]):  # type: ignore[no-untyped-def]
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return load_gateway_config(path)


def _document(**model: Any) -> dict[str, Any]:
    return {
        "retry": {"max_attempts": 2, "backoff_max_seconds": 1},
        "health": {"enabled": True, "open_seconds": 10},
        "providers": {
            "east": {"type": "openai", "retry": {"max_attempts": 4, "budget_ratio": 0.1}},
            "west": {"type": "openai", "health": {"failure_threshold": 2}},
        },
        "models": {"gpt-4o": model},
        "prefixes": {"east/": "east"},
    }


def test_deployments_carry_merged_settings(tmp_path: Path) -> None:
    config = _load(tmp_path, _document(
        deployments=[
            {"provider": "east", "weight": 3},
            {"provider": "west", "model": "gpt-4o-2024-08-06", "name": "gpt-4o-west"},
        ],
        routing_strategy="least_in_flight",
        retry={"max_attempts": 3},
    ))  # fmt: skip
    (group,) = routing_table(config).groups("gpt-4o")
    east, west = group.deployments
    assert group.strategy == "least_in_flight"
    assert (east.name, east.target, east.weight) == ("gpt-4o@east", Target("east", "gpt-4o"), 3.0)
    assert (west.name, west.target) == ("gpt-4o-west", Target("west", "gpt-4o-2024-08-06"))
    # model over provider over top level over the built-in defaults
    assert east.retry == RetrySettings(max_attempts=3, backoff_max_seconds=1.0, budget_ratio=0.1)
    assert west.retry == RetrySettings(max_attempts=3, backoff_max_seconds=1.0)
    assert west.health == HealthSettings(enabled=True, open_seconds=10.0, failure_threshold=2)


def test_a_route_with_a_provider_is_one_deployment_named_after_it(tmp_path: Path) -> None:
    table = routing_table(_load(tmp_path, _document(provider="east")))
    (deployment,) = table.groups("gpt-4o")[0].deployments
    assert deployment.name == "gpt-4o" and deployment.retry.max_attempts == 4
    (dynamic,) = table.groups("east/gpt-5")[0].deployments
    assert dynamic.name == "east/*" and dynamic.retry.max_attempts == 4


def test_a_file_without_the_sections_keeps_one_attempt_and_no_breaker(tmp_path: Path) -> None:
    config = _load(
        tmp_path, {"providers": {"p": {"type": "echo"}}, "models": {"m": {"provider": "p"}}}
    )
    (deployment,) = routing_table(config).groups("m")[0].deployments
    assert deployment.retry == RetrySettings() and deployment.retry.max_attempts == 1
    assert deployment.health == HealthSettings() and not deployment.health.enabled


def test_the_shipped_file_turns_retries_and_health_on() -> None:
    (deployment,) = routing_table(load_gateway_config(SHIPPED)).groups("gpt-4o")[0].deployments
    assert deployment.retry.max_attempts == 2 and deployment.health.enabled


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            {"provider": "east", "deployments": [{"provider": "west"}]},
            "models['gpt-4o']: give either 'provider' or 'deployments', not both",
        ),
        (
            {"deployments": [{"provider": "east"}], "model": "x"},
            "models['gpt-4o']: 'model' goes in each deployment",
        ),
        (
            {"deployments": [{"provider": "east", "weight": 0}]},
            "models['gpt-4o']: 'deployments[0].weight' must be greater than 0",
        ),
        (
            {"provider": "east", "routing_strategy": "fastest"},
            "models['gpt-4o']: 'routing_strategy' must be 'weighted', 'least_in_flight' or 'lowest_latency'",
        ),
        (
            {"provider": "east", "retry": {"max_attempts": 0}},
            "models['gpt-4o']: 'retry.max_attempts' must be greater than or equal to 1",
        ),
        (
            {"provider": "east", "retry": {"budget_ratio": 2}},
            "models['gpt-4o']: 'retry.budget_ratio' must be less than or equal to 1",
        ),
        (
            {"provider": "east", "retry": {"retries": 2}},
            "models['gpt-4o']: unknown field 'retry.retries'",
        ),
        ({"deployments": [{"provider": "north"}]}, "routes name unknown providers: north"),
        (
            {"deployments": [{"provider": "east"}, {"provider": "east", "model": "y"}]},
            "deployment names repeat: gpt-4o@east (give each a 'name')",
        ),
    ],
)
def test_mistakes_name_the_entry_and_field(tmp_path: Path, model: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, _document(**model))
    assert expected in str(raised.value)
