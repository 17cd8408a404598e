"""docs/CONFIGURATION.md and README.md against the code they describe.

Every setting is documented with its real default; every ``LLM_GATEWAY_`` name the docs show
is one the gateway reads (a setting, or a provider's key or base-URL variable computed from
``config/providers.json``); the providers.json schema, the CLI options and the HTTP routes
are all covered; the doc's example configuration loads.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from gateway_http.app import ROUTES, served_methods
from gateway_http.cli import _parser as cli_parser
from gateway_http.provider_config import (
    GatewayConfig,
    ModelConfig,
    PatternConfig,
    ProviderConfig,
    key_variables,
    load_gateway_config,
)
from gateway_http.resilience_config import DeploymentConfig, HealthConfig, RetryConfig
from gateway_http.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CONFIGURATION = REPO / "docs" / "CONFIGURATION.md"
README = REPO / "README.md"
SHIPPED_PROVIDERS = REPO / "config" / "providers.json"
# Read by the test suite itself (tests/conftest.py), never by the gateway.
TEST_SUITE_VARIABLES = frozenset({"LLM_GATEWAY_TEST_REDIS_URL"})
# Their adapters send no key: a key variable for them is looked up but never used.
KEYLESS_TYPES = frozenset({"echo", "ollama"})

_GATEWAY_VARIABLE = re.compile(r"\bLLM_GATEWAY_[A-Z0-9_]*[A-Z0-9]\b")
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")
_PATH_PARAMETER = re.compile(r"\{[^}]*\}")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """From ``heading`` to the next heading of the same level."""
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n")
    end = text.find(f"\n{level} ", start + len(heading) + 2)
    return text[start : end if end != -1 else len(text)]


def _table_rows(text: str) -> Iterator[list[str]]:
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            yield [cell.strip() for cell in _CELL_SEPARATOR.split(line)[1:-1]]


def setting_variables() -> dict[str, str]:
    """Settings field -> its environment variable."""
    return {field: f"LLM_GATEWAY_{field.upper()}" for field in Settings.model_fields}


def provider_variables(config: GatewayConfig) -> set[str]:
    names: set[str] = set()
    for name, provider in config.providers.items():
        names.update(key_variables(name, provider))
        if provider.base_url_env:
            names.add(provider.base_url_env)
    return names


def example_configs() -> list[dict[str, Any]]:
    """The complete providers.json examples in the doc (JSON blocks with ``providers``)."""
    blocks = (json.loads(block) for block in _JSON_BLOCK.findall(_text(CONFIGURATION)))
    return [block for block in blocks if "providers" in block]


def known_variables() -> set[str]:
    configs = [load_gateway_config(SHIPPED_PROVIDERS)]
    configs += [GatewayConfig.model_validate(example) for example in example_configs()]
    names = set(setting_variables().values()) | TEST_SUITE_VARIABLES
    for config in configs:
        names |= provider_variables(config)
    return names


def shown_default(value: object) -> str | None:
    """How a default is written in a table cell; ``None`` is written as "unset ..."."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return value.as_posix() if isinstance(value, Path) else str(value)


def assert_default_cell(variable: str, cell: str) -> None:
    field = variable.removeprefix("LLM_GATEWAY_").lower()
    expected = shown_default(Settings.model_fields[field].default)
    if expected is None:
        assert cell.startswith("unset"), f"{variable}: default {cell!r}, expected unset"
    else:
        assert cell.startswith(f"`{expected}`"), f"{variable}: default {cell!r}, not {expected}"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_has_a_row_with_its_real_default(field: str) -> None:
    variable = setting_variables()[field]
    rows = [row for row in _table_rows(_text(CONFIGURATION)) if row[0] == f"`{variable}`"]
    assert len(rows) == 1, f"docs/CONFIGURATION.md: expected one table row for {variable}"
    _variable, type_cell, default_cell, meaning_cell = rows[0]
    assert type_cell and meaning_cell, f"{variable}: type or meaning is empty"
    assert_default_cell(variable, default_cell)


def test_the_reference_names_only_variables_the_gateway_reads() -> None:
    unknown = set(_GATEWAY_VARIABLE.findall(_text(CONFIGURATION))) - known_variables()
    assert not unknown, f"docs/CONFIGURATION.md names variables nothing reads: {sorted(unknown)}"


def test_every_provider_key_and_base_url_variable_is_documented() -> None:
    text = _text(CONFIGURATION)
    config = load_gateway_config(SHIPPED_PROVIDERS)
    expected = {p.base_url_env for p in config.providers.values() if p.base_url_env}
    for name, provider in config.providers.items():
        if provider.type not in KEYLESS_TYPES:
            expected.update(key_variables(name, provider))  # OPENAI_API_KEY and the like
    missing = sorted(name for name in expected if f"`{name}`" not in text)
    assert not missing, f"docs/CONFIGURATION.md does not mention {missing}"
    undocumented = sorted(name for name in config.providers if f"| `{name}` |" not in text)
    assert not undocumented, f"providers missing from the provider table: {undocumented}"


def test_the_example_configurations_load(tmp_path: Path) -> None:
    examples = example_configs()
    assert examples, "docs/CONFIGURATION.md: the providers.json example is gone"
    for number, example in enumerate(examples):
        path = tmp_path / f"example-{number}.json"
        path.write_text(json.dumps(example), encoding="utf-8")
        load_gateway_config(path)  # raises ConfigError naming what is wrong


@pytest.mark.parametrize(
    "schema",
    [
        GatewayConfig,
        ProviderConfig,
        ModelConfig,
        PatternConfig,
        RetryConfig,
        HealthConfig,
        DeploymentConfig,
    ],
    ids=lambda s: s.__name__,
)
def test_every_providers_json_field_is_documented(schema: type[BaseModel]) -> None:
    section = _section(_text(CONFIGURATION), "## config/providers.json")
    missing = sorted(field for field in schema.model_fields if f"`{field}`" not in section)
    assert not missing, f"{schema.__name__} fields missing from docs/CONFIGURATION.md: {missing}"


def _cli_options() -> set[str]:
    options: set[str] = set()
    pending = [cli_parser()]
    while pending:
        parser = pending.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            options.update(o for o in action.option_strings if o.startswith("--") and o != "--help")
    return options


def test_every_cli_option_is_documented() -> None:
    section = _section(_text(CONFIGURATION), "## The command line")
    options = _cli_options()
    assert {"--host", "--port", "--workers", "--reload", "--name"} <= options
    missing = sorted(option for option in options if f"| `{option}` |" not in section)
    assert not missing, f"CLI options missing from docs/CONFIGURATION.md: {missing}"


def test_readme_configuration_table_shows_real_settings_and_defaults() -> None:
    section = _section(_text(README), "## Configuration")
    assert "docs/CONFIGURATION.md" in section
    rows = [row for row in _table_rows(section) if _GATEWAY_VARIABLE.search(row[0])]
    assert len(rows) >= 5, "README: the configuration table is gone"
    settings = set(setting_variables().values())
    for variable_cell, default_cell, _meaning in rows:
        variables = _GATEWAY_VARIABLE.findall(variable_cell)
        defaults = default_cell.split(" / ")
        assert len(defaults) == len(variables), f"README row {variable_cell}: one default each"
        for variable, default in zip(variables, defaults, strict=True):
            assert variable in settings, f"README: {variable} is not a setting"
            assert_default_cell(variable, default)


def test_readme_names_only_variables_the_gateway_reads() -> None:
    unknown = set(_GATEWAY_VARIABLE.findall(_text(README))) - known_variables()
    assert not unknown, f"README.md names variables nothing reads: {sorted(unknown)}"


def test_test_suite_variables_are_read_by_the_test_suite() -> None:
    conftest = _text(REPO / "tests" / "conftest.py")
    for variable in TEST_SUITE_VARIABLES:
        assert f'"{variable}"' in conftest, f"{variable} is no longer read by tests/conftest.py"


def _normalised(method: str, path: str) -> str:
    return f"{method} {_PATH_PARAMETER.sub('{}', path)}"


def test_readme_endpoints_table_matches_the_routes() -> None:
    served = {
        _normalised(method, path)
        for handler in ROUTES
        for path in handler.paths
        for method in served_methods(handler)
    }
    table = _section(_text(README), "## Endpoints")
    listed = {_normalised(method, path) for method, path in _ROUTE.findall(table)}
    assert listed == served, f"README only: {listed - served}; not in README: {served - listed}"
