"""``config/tools.json`` -> the tool registry and its backends, checked once at start-up.

The file (docs/API.md documents it for operators)::

    {"backends": {"<name>": {"kind": "http", "timeout_seconds"?, "max_response_bytes"?,
                             "retry_after_seconds"?, "headers"?, "circuit_breaker"?:
                             {"failure_threshold"?, "cooldown_seconds"?}}
                  | {"kind": "local"}},
     "tools": [{"name", "description", "parameters": <JSON Schema>, "backend": "<name>",
                "http"?: {"method", "url", "body"?, "query"?, "headers"?, "timeout_seconds"?,
                          "max_response_bytes"?},            (for an http backend)
                "function"?: "<local function name>"}]}       (for a local backend)

``{placeholders}`` in a URL are settings (``{semantic_search_url}``), filled from the mapping
the caller passes, or arguments, filled per call as path segments; an argument placeholder
must name a required property and may only appear after the host. Header values may hold
settings. Anything unknown or inconsistent raises ``ToolConfigError`` naming the place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from gateway_core.domain.tool_registry import RegisteredTool, ToolRegistry
from gateway_core.ports.clock import Clock
from gateway_core.ports.tools import ToolBackend
from jsonschema import Draft202012Validator, SchemaError
from jsonschema.exceptions import best_match

from gateway_adapters.tools.circuit_breaker import CircuitBreaker, CircuitBreakerBackend
from gateway_adapters.tools.http_backend import PLACEHOLDER, HttpToolBackend, HttpToolRoute
from gateway_adapters.tools.local_backend import BUILTIN_FUNCTIONS, LocalFunction, LocalToolBackend
from gateway_adapters.tools.schema_validator import check_schema

_NAME = r"^[A-Za-z0-9_-]{1,64}$"  # OpenAI's rule for function names
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
_LIMITS = {"timeout_seconds": _POSITIVE, "max_response_bytes": {"type": "integer", "minimum": 1}}
_BREAKER = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "failure_threshold": {"type": "integer", "minimum": 1},
        "cooldown_seconds": _POSITIVE,
    },
}
_BACKEND = {
    "type": "object",
    "required": ["kind"],
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": ["http", "local"]},
        "headers": _STRINGS,
        "retry_after_seconds": _POSITIVE,
        "circuit_breaker": _BREAKER,
        **_LIMITS,
    },
}
_HTTP_ROUTE = {
    "type": "object",
    "required": ["method", "url"],
    "additionalProperties": False,
    "properties": {
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        "url": {"type": "string", "minLength": 1},
        "body": _STRINGS,
        "query": _STRINGS,
        "headers": _STRINGS,
        **_LIMITS,
    },
}
_TOOL = {
    "type": "object",
    "required": ["name", "description", "parameters", "backend"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": _NAME},
        "description": {"type": "string"},
        "parameters": {"type": "object"},
        "backend": {"type": "string"},
        "http": _HTTP_ROUTE,
        "function": {"type": "string"},
    },
}
CONFIG_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["backends", "tools"],
    "additionalProperties": False,
    "properties": {
        "backends": {"type": "object", "additionalProperties": _BACKEND},
        "tools": {"type": "array", "items": _TOOL},
    },
}


class ToolConfigError(ValueError):
    """``config/tools.json`` is wrong: the service must not start."""


@dataclass(frozen=True, slots=True)
class LoadedTools:
    registry: ToolRegistry
    backends: Mapping[str, ToolBackend]
    breakers: Mapping[str, CircuitBreaker]
    """The http backends' circuit breakers, by backend name (for health reporting)."""


def load_tools(
    path: str | Path,
    *,
    settings: Mapping[str, str | None],
    client: httpx.AsyncClient,
    clock: Clock,
    local_functions: Mapping[str, LocalFunction] = BUILTIN_FUNCTIONS,
) -> LoadedTools:
    """Read and check the file; ``settings`` fills URL placeholders (``semantic_search_url``)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ToolConfigError(f"Cannot read {path}: {error}") from error
    return build_tools(
        document, settings=settings, client=client, clock=clock, local_functions=local_functions
    )


def build_tools(
    document: Any,
    *,
    settings: Mapping[str, str | None],
    client: httpx.AsyncClient,
    clock: Clock,
    local_functions: Mapping[str, LocalFunction] = BUILTIN_FUNCTIONS,
) -> LoadedTools:
    _check_shape(document)
    backends_config: Mapping[str, Any] = document["backends"]
    tools: list[RegisteredTool] = []
    routes: dict[str, dict[str, HttpToolRoute]] = {}
    functions: dict[str, dict[str, LocalFunction]] = {}
    for position, entry in enumerate(document["tools"]):
        where = f"tools[{position}] ({entry['name']})"
        tool = _tool(entry, where, backends_config)
        kind = backends_config[tool.backend]["kind"]
        if kind == "http":
            backend = backends_config[tool.backend]
            routes.setdefault(tool.backend, {})[tool.name] = _route(entry, backend, settings, where)
        else:
            function = _function(entry, local_functions, where)
            functions.setdefault(tool.backend, {})[tool.name] = function
        tools.append(tool)
    try:
        registry = ToolRegistry(tools)
    except ValueError as error:
        raise ToolConfigError(str(error)) from error
    backends: dict[str, ToolBackend] = {
        name: LocalToolBackend(by_tool, name=name) for name, by_tool in functions.items()
    }
    breakers: dict[str, CircuitBreaker] = {}
    for name, by_tool in routes.items():
        breakers[name], backends[name] = _http_backend(
            name, backends_config[name], by_tool, client, clock
        )
    return LoadedTools(registry, backends, breakers)


def _http_backend(
    name: str,
    config: Mapping[str, Any],
    routes: Mapping[str, HttpToolRoute],
    client: httpx.AsyncClient,
    clock: Clock,
) -> tuple[CircuitBreaker, ToolBackend]:
    retry_after = config.get("retry_after_seconds", 5.0)
    http = HttpToolBackend(name, client, routes, retry_after_seconds=retry_after)
    breaker = CircuitBreaker(clock, **config.get("circuit_breaker", {}))
    return breaker, CircuitBreakerBackend(http, breaker)


def _check_shape(document: Any) -> None:
    error = best_match(Draft202012Validator(CONFIG_SCHEMA).iter_errors(document))
    if error is not None:
        place = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ToolConfigError(f"tools config at {place}: {error.message}")


def _tool(entry: Mapping[str, Any], where: str, backends: Mapping[str, Any]) -> RegisteredTool:
    if entry["backend"] not in backends:
        raise ToolConfigError(f"{where}: unknown backend '{entry['backend']}'.")
    kind = backends[entry["backend"]]["kind"]
    if (kind == "http") != ("http" in entry) or (kind == "local") != ("function" in entry):
        raise ToolConfigError(f"{where}: an {kind} backend's tool needs exactly its own section.")
    parameters = entry["parameters"]
    try:
        check_schema(parameters)
    except SchemaError as error:
        raise ToolConfigError(f"{where}: parameters is not a valid JSON Schema: {error.message}")
    if parameters.get("type") != "object":
        raise ToolConfigError(f'{where}: parameters must have "type": "object".')
    return RegisteredTool(entry["name"], entry["description"], parameters, entry["backend"])


def _function(
    entry: Mapping[str, Any], functions: Mapping[str, LocalFunction], where: str
) -> LocalFunction:
    function = functions.get(entry["function"])
    if function is None:
        known = ", ".join(sorted(functions)) or "none"
        raise ToolConfigError(f"{where}: no local function '{entry['function']}' ({known}).")
    return function


def _route(
    entry: Mapping[str, Any],
    backend: Mapping[str, Any],
    settings: Mapping[str, str | None],
    where: str,
) -> HttpToolRoute:
    http = entry["http"]
    properties = entry["parameters"].get("properties", {})
    required = set(entry["parameters"].get("required", ()))
    for section in ("body", "query"):
        unknown = sorted(set(http.get(section, {})) - set(properties))
        if unknown:
            raise ToolConfigError(f"{where}: http.{section} maps unknown arguments {unknown}.")
    url = _fill_settings(http["url"], settings, where, keep=required, strip_slash=True)
    _check_url(url, where)
    headers = {**backend.get("headers", {}), **http.get("headers", {})}
    return HttpToolRoute(
        method=http["method"],
        url=url,
        body=http.get("body", {}),
        query=http.get("query", {}),
        headers={k: _fill_settings(v, settings, where) for k, v in headers.items()},
        timeout_seconds=http.get("timeout_seconds", backend.get("timeout_seconds", 10.0)),
        max_response_bytes=http.get(
            "max_response_bytes", backend.get("max_response_bytes", 1_048_576)
        ),
    )


def _fill_settings(
    template: str,
    settings: Mapping[str, str | None],
    where: str,
    keep: set[str] | frozenset[str] = frozenset(),
    strip_slash: bool = False,
) -> str:
    """Settings filled in, ``keep`` placeholders (required arguments) left for each call."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in settings:
            value = settings[name]
            if not value:
                raise ToolConfigError(f"{where}: the setting '{name}' is empty.")
            return value.rstrip("/") if strip_slash else value
        if name in keep:
            return match.group(0)
        known = ", ".join(sorted(settings)) or "none"
        raise ToolConfigError(
            f"{where}: unknown placeholder {{{name}}}: not a setting ({known}) nor a required "
            "argument."
        )

    return PLACEHOLDER.sub(fill, template)


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(PLACEHOLDER.sub("x", url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ToolConfigError(f"{where}: the URL must be absolute http(s) once settings are in.")
    raw = urlsplit(url)
    if "{" in raw.netloc or "{" in raw.query or "{" in raw.fragment:
        raise ToolConfigError(f"{where}: arguments may only fill path segments of the URL.")

