"""The model of ``config/tools.json`` (docs/API.md documents it for operators)::

    {"backends": {"<name>": {"kind": "http", "timeout_seconds"?, "max_response_bytes"?,
                             "retry_after_seconds"?, "headers"?, "circuit_breaker"?:
                             {"failure_threshold"?, "cooldown_seconds"?}}
                  | {"kind": "local"}},
     "tools": [{"name", "description", "parameters": <JSON Schema>, "backend": "<name>",
                "http"?: {"method", "url", "body"?, "query"?, "headers"?, "timeout_seconds"?,
                          "max_response_bytes"?},            (for an http backend)
                "function"?: "<local function name>"}]}       (for a local backend)

The shape only; what needs the whole file (a tool's backend exists, a URL's placeholders are
known) is checked by ``gateway_adapters.tools.registry``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from gateway_adapters.config.validation import ConfigModel, Location, json_integer, json_number

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # OpenAI's rule for function names

Seconds = Annotated[float, BeforeValidator(json_number), Field(gt=0)]
ByteLimit = Annotated[int, BeforeValidator(json_integer), Field(ge=1)]
# Absent: the backend's value. Never null, as before.
InheritedSeconds = Annotated[float | None, BeforeValidator(json_number), Field(gt=0)]
InheritedByteLimit = Annotated[int | None, BeforeValidator(json_integer), Field(ge=1)]
Strings = dict[str, str]


def _tool_name(name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise ValueError("must be 1-64 letters, digits, '_' or '-' (OpenAI's rule)")
    return name


class CircuitBreakerConfig(ConfigModel):
    failure_threshold: Annotated[int, BeforeValidator(json_integer), Field(ge=1)] = 5
    cooldown_seconds: Seconds = 30.0


class BackendConfig(ConfigModel):
    kind: Literal["http", "local"]
    headers: Strings = Field(default_factory=dict)
    retry_after_seconds: Seconds = 5.0
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    timeout_seconds: Seconds = 10.0
    max_response_bytes: ByteLimit = 1_048_576


class HttpRouteConfig(ConfigModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: Annotated[str, Field(min_length=1)]
    body: Strings = Field(default_factory=dict)
    query: Strings = Field(default_factory=dict)
    headers: Strings = Field(default_factory=dict)
    timeout_seconds: InheritedSeconds = None
    max_response_bytes: InheritedByteLimit = None


class ToolConfig(ConfigModel):
    name: Annotated[str, AfterValidator(_tool_name)]
    description: str
    parameters: dict[str, Any]
    backend: str
    http: HttpRouteConfig | None = None
    function: str | None = None


class ToolsFile(ConfigModel):
    backends: dict[str, BackendConfig]
    tools: list[ToolConfig]


def name_tool_entry(entry: Location, written: Any) -> str:
    """``tools[0] (search_corpus)``, ``backends['semantic_search']``."""
    collection, key = entry
    name = written.get("name") if collection == "tools" and isinstance(written, dict) else None
    place = f"{collection}[{key!r}]"
    return f"{place} ({name})" if isinstance(name, str) else place
