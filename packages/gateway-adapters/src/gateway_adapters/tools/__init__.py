"""Tool backends: HTTP proxies to other services, in-process functions, circuit breakers, the
``config/tools.json`` loader and the JSON Schema argument validator.

The container builds everything with one call::

    loaded = load_tools("config/tools.json", settings={"semantic_search_url": ...,
                        "ai_agents_url": ...}, client=httpx.AsyncClient(), clock=SystemClock())
    execute = ExecuteTool(loaded.registry, loaded.backends, JsonSchemaArgumentsValidator())
"""

from gateway_adapters.tools.circuit_breaker import (
    CIRCUIT_OPEN_CODE,
    CircuitBreaker,
    CircuitBreakerBackend,
    CircuitState,
)
from gateway_adapters.tools.http_backend import HttpToolBackend, HttpToolRoute
from gateway_adapters.tools.local_backend import (
    BUILTIN_FUNCTIONS,
    LocalFunction,
    LocalToolBackend,
    calculate,
    echo,
)
from gateway_adapters.tools.registry import LoadedTools, ToolConfigError, build_tools, load_tools
from gateway_adapters.tools.schema_validator import JsonSchemaArgumentsValidator

__all__ = [
    "BUILTIN_FUNCTIONS",
    "CIRCUIT_OPEN_CODE",
    "CircuitBreaker",
    "CircuitBreakerBackend",
    "CircuitState",
    "HttpToolBackend",
    "HttpToolRoute",
    "JsonSchemaArgumentsValidator",
    "LoadedTools",
    "LocalFunction",
    "LocalToolBackend",
    "ToolConfigError",
    "build_tools",
    "calculate",
    "echo",
    "load_tools",
]
