"""Run one registered tool: what ``POST /v1/tools/execute`` and the chat tool loop share.

The rule, by outcome (the HTTP shell maps the errors through its one table):

==========================================  =============================================
the tool ...                                ``execute`` ...
==========================================  =============================================
is not registered                           raises ``ToolNotFoundError`` (404 tool_not_found)
gets arguments that break its schema        raises ``ToolArgumentsError`` (422, ``param``)
ran and succeeded                           returns ``ToolResult(success=True)``
ran and failed (downstream 4xx but 404,     returns ``ToolResult(success=False, error=...)``
a local tool raised)
hit a downstream 404                        raises ``ToolItemNotFoundError``
                                            (404 tool_item_not_found)
has a downstream that is down, timed out,   raises ``ToolUnavailableError`` (503),
answered 5xx, or whose circuit is open      ``ToolTimeoutError`` (504), ``ToolBadGatewayError``
                                            (502); all with ``retry_after``
==========================================  =============================================

Nothing is retried here: a tool call may not be idempotent, and the 503 tells the caller
when to try again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway_core.domain.tool_registry import RegisteredTool, ToolRegistry, ToolResult
from gateway_core.domain.tools import ToolSpec
from gateway_core.errors import ToolExecutionError
from gateway_core.ports.tools import ArgumentsValidator, ToolBackend


class ExecuteTool:
    """Look a tool up, validate its arguments, run it on its backend."""

    def __init__(
        self,
        registry: ToolRegistry,
        backends: Mapping[str, ToolBackend],
        validator: ArgumentsValidator,
    ) -> None:
        self._catalog = _catalog(registry, backends)
        self._validator = validator

    @property
    def registry(self) -> ToolRegistry:
        return self._catalog[0]

    def retool(self, registry: ToolRegistry, backends: Mapping[str, ToolBackend]) -> None:
        """Serve ``registry`` on ``backends`` from now on (a tools file reload): one assignment,
        so a running call keeps the backend it looked up."""
        self._catalog = _catalog(registry, backends)

    def tools(self) -> tuple[ToolSpec, ...]:
        """Every registered tool, for ``GET /v1/tools``."""
        return self.registry.specs()

    def check(self, name: str, arguments: Mapping[str, Any]) -> RegisteredTool:
        """The tool, once its arguments are known to be valid; raises as ``execute`` does."""
        tool = self.registry.get(name)
        self._validator.validate(tool, arguments)
        return tool

    async def execute(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        tool_call_id: str | None = None,
    ) -> ToolResult:
        arguments = {} if arguments is None else arguments
        registry, backends = self._catalog
        tool = registry.get(name)
        self._validator.validate(tool, arguments)
        backend = backends[tool.backend]
        try:
            result = await backend.execute(tool.name, arguments)
        except ToolExecutionError as failure:
            return ToolResult.failure(tool.name, failure.message, tool_call_id)
        return ToolResult(name=tool.name, result=result, tool_call_id=tool_call_id)


def _catalog(
    registry: ToolRegistry, backends: Mapping[str, ToolBackend]
) -> tuple[ToolRegistry, Mapping[str, ToolBackend]]:
    missing = sorted({tool.backend for tool in registry} - set(backends))
    if missing:
        raise ValueError(f"Tools name backends that do not exist: {', '.join(missing)}.")
    return registry, backends
