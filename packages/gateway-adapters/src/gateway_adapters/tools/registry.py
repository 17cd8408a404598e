"""``config/tools.json`` -> the tool registry and its backends, checked once at start-up.

The file's shape is ``gateway_adapters.config.tools`` (docs/API.md documents it for
operators); this module checks what needs the whole file and builds the backends.

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
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from jsonschema import SchemaError

from gateway_adapters.config.tools import (
    BackendConfig,
    HttpRouteConfig,
    ToolConfig,
    ToolsFile,
    name_tool_entry,
)
from gateway_adapters.config.validation import ConfigFileError, validate
from gateway_adapters.tools.circuit_breaker import CircuitBreaker, CircuitBreakerBackend
from gateway_adapters.tools.http_backend import PLACEHOLDER, HttpToolBackend, HttpToolRoute
from gateway_adapters.tools.local_backend import BUILTIN_FUNCTIONS, LocalFunction, LocalToolBackend
from gateway_adapters.tools.schema_validator import check_schema
from gateway_core.domain.tool_registry import RegisteredTool, ToolRegistry
from gateway_core.ports.clock import Clock
from gateway_core.ports.tools import ToolBackend

Limit = TypeVar("Limit", int, float)


class ToolConfigError(ConfigFileError):
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
        document,
        settings=settings,
        client=client,
        clock=clock,
        local_functions=local_functions,
        source=str(path),
    )


def build_tools(
    document: Any,
    *,
    settings: Mapping[str, str | None],
    client: httpx.AsyncClient,
    clock: Clock,
    local_functions: Mapping[str, LocalFunction] = BUILTIN_FUNCTIONS,
    source: str = "tools config",
) -> LoadedTools:
    config = validate(
        ToolsFile, document, source=source, error=ToolConfigError, name_entry=name_tool_entry
    )
    tools: list[RegisteredTool] = []
    routes: dict[str, dict[str, HttpToolRoute]] = {}
    functions: dict[str, dict[str, LocalFunction]] = {}
    for position, entry in enumerate(config.tools):
        where = f"{source}: tools[{position}] ({entry.name})"
        backend = _backend(entry, where, config.backends)
        tools.append(_registered(entry, where))
        if entry.http is not None:
            route = _route(entry, entry.http, backend, settings, where)
            routes.setdefault(entry.backend, {})[entry.name] = route
        else:
            function = _function(entry, local_functions, where)
            functions.setdefault(entry.backend, {})[entry.name] = function
    try:
        registry = ToolRegistry(tools)
    except ValueError as error:
        raise ToolConfigError(f"{source}: {error}") from error
    backends: dict[str, ToolBackend] = {
        name: LocalToolBackend(by_tool, name=name) for name, by_tool in functions.items()
    }
    breakers: dict[str, CircuitBreaker] = {}
    for name, by_tool in routes.items():
        breakers[name], backends[name] = _http_backend(
            name, config.backends[name], by_tool, client, clock
        )
    return LoadedTools(registry, backends, breakers)


def _http_backend(
    name: str,
    config: BackendConfig,
    routes: Mapping[str, HttpToolRoute],
    client: httpx.AsyncClient,
    clock: Clock,
) -> tuple[CircuitBreaker, ToolBackend]:
    http = HttpToolBackend(name, client, routes, retry_after_seconds=config.retry_after_seconds)
    breaker = CircuitBreaker(
        clock,
        failure_threshold=config.circuit_breaker.failure_threshold,
        cooldown_seconds=config.circuit_breaker.cooldown_seconds,
    )
    return breaker, CircuitBreakerBackend(http, breaker)


def _backend(entry: ToolConfig, where: str, backends: Mapping[str, BackendConfig]) -> BackendConfig:
    backend = backends.get(entry.backend)
    if backend is None:
        raise ToolConfigError(f"{where}: unknown backend '{entry.backend}'.")
    kind = backend.kind
    has_http, has_function = entry.http is not None, entry.function is not None
    if (kind == "http") != has_http or (kind == "local") != has_function:
        raise ToolConfigError(f"{where}: an {kind} backend's tool needs exactly its own section.")
    return backend


def _registered(entry: ToolConfig, where: str) -> RegisteredTool:
    parameters = entry.parameters
    try:
        check_schema(parameters)
    except SchemaError as error:
        raise ToolConfigError(
            f"{where}: parameters is not a valid JSON Schema: {error.message}"
        ) from None
    if parameters.get("type") != "object":
        raise ToolConfigError(f'{where}: parameters must have "type": "object".')
    return RegisteredTool(entry.name, entry.description, parameters, entry.backend)


def _function(
    entry: ToolConfig, functions: Mapping[str, LocalFunction], where: str
) -> LocalFunction:
    function = functions.get(entry.function or "")
    if function is None:
        known = ", ".join(sorted(functions)) or "none"
        raise ToolConfigError(f"{where}: no local function '{entry.function}' ({known}).")
    return function


def _route(
    entry: ToolConfig,
    http: HttpRouteConfig,
    backend: BackendConfig,
    settings: Mapping[str, str | None],
    where: str,
) -> HttpToolRoute:
    properties = entry.parameters.get("properties", {})
    required = set(entry.parameters.get("required", ()))
    for section, mapping in (("body", http.body), ("query", http.query)):
        unknown = sorted(set(mapping) - set(properties))
        if unknown:
            raise ToolConfigError(f"{where}: http.{section} maps unknown arguments {unknown}.")
    url = _fill_settings(http.url, settings, where, keep=required, strip_slash=True)
    _check_url(url, where)
    headers = {**backend.headers, **http.headers}
    return HttpToolRoute(
        method=http.method,
        url=url,
        body=dict(http.body),
        query=dict(http.query),
        headers={k: _fill_settings(v, settings, where) for k, v in headers.items()},
        timeout_seconds=_inherited(http.timeout_seconds, backend.timeout_seconds),
        max_response_bytes=_inherited(http.max_response_bytes, backend.max_response_bytes),
    )


def _inherited(own: Limit | None, backends: Limit) -> Limit:
    return backends if own is None else own


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
