"""Ports for running registered tools: the backends that execute them, and argument checking."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gateway_core.domain.tool_registry import RegisteredTool


class ToolBackend(Protocol):
    """Runs the tools of one backend (in process, or proxied to one downstream service).

    ``execute`` returns the tool's JSON-ready result. It raises only these:

    - ``ToolExecutionError``: the tool ran and failed (a downstream 4xx other than 404, a local
      tool raised); the caller reports it as a failed result, not as a failed request;
    - ``ToolItemNotFoundError``: the downstream answered 404 ("no such item");
    - ``ToolUnavailableError`` (``ToolTimeoutError``, ``ToolBadGatewayError``): the downstream
      is unreachable, timed out, answered 5xx, or its circuit is open; ``retry_after`` is set;
    - ``ToolArgumentsError``: an argument the call needs is missing (callers validate first).

    A backend never retries: a tool call may not be idempotent.
    """

    name: str

    async def execute(self, tool_name: str, arguments: Mapping[str, Any]) -> Any: ...


class ArgumentsValidator(Protocol):
    """Checks a tool call's arguments against the tool's JSON Schema.

    Raises ``ToolArgumentsError`` whose ``param`` is the failing argument's path joined by
    ``.`` (``"top_k"``, ``"filters.year"``, ``"items.0"``; for a missing required property,
    that property's path); ``param`` is ``None`` when the arguments as a whole are wrong.
    """

    def validate(self, tool: RegisteredTool, arguments: Mapping[str, Any]) -> None: ...
