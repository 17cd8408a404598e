"""ExecuteTool: lookup, validation, and which failures are results and which are errors."""

from __future__ import annotations

import pytest

from gateway_adapters.tools import JsonSchemaArgumentsValidator
from gateway_core.domain.tool_registry import ToolResult
from gateway_core.errors import (
    ToolArgumentsError,
    ToolBadGatewayError,
    ToolExecutionError,
    ToolItemNotFoundError,
    ToolNotFoundError,
)
from gateway_core.use_cases.execute_tool import ExecuteTool
from tests.unit.tools.fakes import RecordingBackend, execute_tool, registry


async def test_a_registered_tool_runs_and_echoes_the_call_id() -> None:
    backend = RecordingBackend(answers={"search_corpus": {"results": []}})
    result = await execute_tool(backend).execute("search_corpus", {"query": "q"}, "call_9")
    assert result == ToolResult("search_corpus", {"results": []}, True, None, "call_9")


async def test_arguments_default_to_none_given() -> None:
    backend = RecordingBackend()
    await execute_tool(backend).execute("get_chunk")
    assert backend.calls == [("get_chunk", {})]


async def test_an_unknown_tool_is_not_found() -> None:
    with pytest.raises(ToolNotFoundError) as raised:
        await execute_tool(RecordingBackend()).execute("rm_rf", {})
    assert raised.value.code == "tool_not_found"


async def test_arguments_are_checked_before_the_backend_is_called() -> None:
    backend = RecordingBackend()
    with pytest.raises(ToolArgumentsError) as raised:
        await execute_tool(backend).execute("search_corpus", {"query": "q", "top_k": 101})
    assert raised.value.param == "top_k"
    assert backend.calls == []


async def test_a_tool_that_ran_and_failed_is_an_unsuccessful_result() -> None:
    backend = RecordingBackend(answers={"search_corpus": ToolExecutionError("rejected (422)")})
    result = await execute_tool(backend).execute("search_corpus", {"query": "q"}, "c1")
    assert result == ToolResult.failure("search_corpus", "rejected (422)", "c1")


@pytest.mark.parametrize(
    "failure", [ToolItemNotFoundError("no such chunk"), ToolBadGatewayError("HTTP 500")]
)
async def test_missing_items_and_unavailable_backends_are_errors(failure: Exception) -> None:
    backend = RecordingBackend(answers={"get_chunk": failure})
    with pytest.raises(type(failure)):
        await execute_tool(backend).execute("get_chunk", {"chunk_id": "x"})


def test_it_lists_the_registered_tools_in_order() -> None:
    tools = execute_tool(RecordingBackend()).tools()
    assert [spec.name for spec in tools] == ["search_corpus", "get_chunk", "echo"]


def test_a_tool_whose_backend_is_missing_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="local, remote"):
        ExecuteTool(registry(), {}, JsonSchemaArgumentsValidator())
