"""The tools the gateway can run itself, and what running one produced.

A ``RegisteredTool`` is what ``config/tools.json`` defines (loaded by an adapter); the
``ToolRegistry`` is the immutable set of them. ``ToolResult`` is what ``POST /v1/tools/execute``
answers; ``ToolRun`` is the record of one execution inside the chat tool loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gateway_core.domain.tools import ToolSpec
from gateway_core.errors import ToolNotFoundError


@dataclass(frozen=True, slots=True)
class RegisteredTool:
    """A tool the gateway runs: its model-facing spec and the backend that executes it."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    """A JSON Schema (Draft 2020-12) object that the arguments must satisfy."""
    backend: str
    """The name of the ``ToolBackend`` that runs it (``semantic_search``, ``local``, ...)."""

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)


class ToolRegistry:
    """The registered tools by name, in their configured order. Read-only once built."""

    __slots__ = ("_tools",)

    def __init__(self, tools: Iterable[RegisteredTool] = ()) -> None:
        by_name: dict[str, RegisteredTool] = {}
        for tool in tools:
            if tool.name in by_name:
                raise ValueError(f"Tool '{tool.name}' is registered twice.")
            by_name[tool.name] = tool
        self._tools = by_name

    def get(self, name: str) -> RegisteredTool:
        """The tool called ``name``; ``ToolNotFoundError`` (404) when there is none."""
        tool = self._tools.get(name)
        if tool is None:
            raise ToolNotFoundError(f"No tool named '{name}' is registered.", param="name")
        return tool

    def find(self, name: str) -> RegisteredTool | None:
        return self._tools.get(name)

    def specs(self) -> tuple[ToolSpec, ...]:
        """Every tool as the model (and ``GET /v1/tools``) sees it."""
        return tuple(tool.spec for tool in self._tools.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[RegisteredTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one execution. ``result`` is JSON-ready; ``error`` is set when not
    ``success`` and is safe to show (it never holds a downstream body or a URL)."""

    name: str
    result: Any = None
    success: bool = True
    error: str | None = None
    tool_call_id: str | None = None

    @classmethod
    def failure(cls, name: str, error: str, tool_call_id: str | None = None) -> ToolResult:
        return cls(name=name, success=False, error=error, tool_call_id=tool_call_id)


@dataclass(frozen=True, slots=True)
class ToolRun:
    """One tool the chat loop ran for the model: for the response's extension field and logs.

    ``error_code`` is the ``GatewayError`` code of a failure (``tool_unavailable``,
    ``invalid_tool_arguments``, ...), ``None`` on success.
    """

    name: str
    tool_call_id: str
    success: bool
    duration_ms: float
    round: int
    """1 for the tools the model's first answer called, 2 for the next, ..."""
    error: str | None = None
    error_code: str | None = None
