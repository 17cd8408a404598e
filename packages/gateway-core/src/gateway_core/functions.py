"""Tools that are plain Python functions, for in-process use: ``FunctionTool`` and the
``ToolBackend`` that runs them, plus ``RequiredArgumentsValidator``, the default argument check
when no JSON Schema validator is wired (the HTTP service wires a full one)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway_core.domain.tool_registry import RegisteredTool
from gateway_core.errors import ToolArgumentsError, ToolExecutionError

FUNCTIONS_BACKEND = "functions"

ToolFunction = Callable[..., Any] | Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A tool the model may call, run by calling ``function(**arguments)`` (sync or async).

    ``parameters`` is the JSON Schema of the arguments the model sees. Whatever the function
    returns (JSON-ready) is the result; an exception becomes a failed result the model sees.
    """

    name: str
    description: str
    function: ToolFunction
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )

    @property
    def registered(self) -> RegisteredTool:
        return RegisteredTool(self.name, self.description, self.parameters, FUNCTIONS_BACKEND)


class FunctionToolBackend:
    """Runs ``FunctionTool``s in process."""

    name = FUNCTIONS_BACKEND

    def __init__(self, tools: Iterable[FunctionTool]) -> None:
        self._functions = {tool.name: tool.function for tool in tools}

    async def execute(self, tool_name: str, arguments: Mapping[str, Any]) -> Any:
        function = self._functions[tool_name]
        try:
            result = function(**arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception as error:
            raise ToolExecutionError(f"The tool '{tool_name}' failed: {error}") from error
        return result


class RequiredArgumentsValidator:
    """Checks that the arguments are an object holding every ``required`` property; types and
    nested schemas are not checked (wire a JSON Schema validator for that)."""

    def validate(self, tool: RegisteredTool, arguments: Mapping[str, Any]) -> None:
        if not isinstance(arguments, Mapping):
            raise ToolArgumentsError("The tool's arguments must be a JSON object.")
        for name in tool.parameters.get("required", ()):
            if name not in arguments:
                raise ToolArgumentsError(f"The argument '{name}' is required.", param=name)
