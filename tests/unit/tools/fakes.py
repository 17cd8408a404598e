"""Hand-written fakes for the tool tests: a recording tool backend and a loop builder."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway_adapters.tools import BUILTIN_FUNCTIONS, JsonSchemaArgumentsValidator, LocalToolBackend
from gateway_core.domain.routing import ModelRoute, RoutingTable, Target
from gateway_core.domain.tool_registry import RegisteredTool, ToolRegistry
from gateway_core.testing import FakeClock, Reply, ScriptedProvider
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.tool_loop import ToolLoop

SEARCH_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "top_k": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    "required": ["query"],
}


@dataclass
class RecordingBackend:
    """A ``ToolBackend`` answering from ``answers`` (or raising an exception found there).

    With ``concurrent_calls`` set, each call waits until that many calls are in flight: a
    round executed one call after another would time out.
    """

    name: str = "remote"
    answers: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    concurrent_calls: int = 0
    clock: FakeClock | None = None
    seconds_per_call: float = 0.0

    def __post_init__(self) -> None:
        self._in_flight = 0
        self._all_in = asyncio.Event()

    async def execute(self, tool_name: str, arguments: Mapping[str, Any]) -> Any:
        self.calls.append((tool_name, dict(arguments)))
        if self.concurrent_calls:
            self._in_flight += 1
            if self._in_flight >= self.concurrent_calls:
                self._all_in.set()
            await asyncio.wait_for(self._all_in.wait(), timeout=2)
        if self.clock is not None:
            self.clock.advance(self.seconds_per_call)
        answer = self.answers.get(tool_name, {"ok": tool_name})
        if isinstance(answer, Exception):
            raise answer
        return answer


def registry() -> ToolRegistry:
    return ToolRegistry(
        [
            RegisteredTool("search_corpus", "Search.", SEARCH_SCHEMA, "remote"),
            RegisteredTool("get_chunk", "Get a chunk.", {"type": "object"}, "remote"),
            RegisteredTool(
                "echo",
                "Echo.",
                {"type": "object", "properties": {"text": {"type": "string"}}},
                "local",
            ),
        ]
    )


def execute_tool(backend: RecordingBackend) -> ExecuteTool:
    local = LocalToolBackend({"echo": BUILTIN_FUNCTIONS["echo"]})
    backends = {"remote": backend, "local": local}
    return ExecuteTool(registry(), backends, JsonSchemaArgumentsValidator())


def tool_loop(
    replies: list[Reply],
    backend: RecordingBackend | None = None,
    *,
    max_rounds: int = 5,
    max_result_chars: int = 20_000,
    clock: FakeClock | None = None,
) -> tuple[ToolLoop, ScriptedProvider, RecordingBackend]:
    provider = ScriptedProvider("scripted", replies)
    backend = backend or RecordingBackend()
    routes = RoutingTable(models={"m": ModelRoute(Target("scripted", "m-1"))})
    chat = CompleteChat(routes, {"scripted": provider})
    loop = ToolLoop(
        chat,
        execute_tool(backend),
        max_rounds=max_rounds,
        max_result_chars=max_result_chars,
        clock=clock or FakeClock(),
    )
    return loop, provider, backend
