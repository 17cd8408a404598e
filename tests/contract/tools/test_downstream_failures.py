"""Downstream failures over real sockets: which become errors (with retry_after), which results,
and the circuit breaker in front of a failing service."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from gateway_adapters.tools import CIRCUIT_OPEN_CODE
from gateway_core.errors import (
    ToolBadGatewayError,
    ToolTimeoutError,
    ToolUnavailableError,
)
from gateway_core.testing import FakeClock
from gateway_core.use_cases.execute_tool import ExecuteTool
from tests.support.fake_services import (
    RETRY_AFTER_SECONDS,
    FakeAiAgents,
    FakeSemanticSearch,
    ServiceFault,
)

SEARCH = ("search_corpus", {"query": "q"})
DEFAULT_RETRY_AFTER = 5  # semantic_search's retry_after_seconds in config/tools.json


@pytest.mark.parametrize(
    ("fault", "error_class", "code", "retry_after"),
    [
        (ServiceFault.SERVER_ERROR, ToolBadGatewayError, "tool_bad_gateway", DEFAULT_RETRY_AFTER),
        (ServiceFault.UNAVAILABLE, ToolUnavailableError, "tool_unavailable", RETRY_AFTER_SECONDS),
        (ServiceFault.HANG, ToolTimeoutError, "tool_timeout", DEFAULT_RETRY_AFTER),
        (ServiceFault.REDIRECT, ToolBadGatewayError, "tool_bad_gateway", DEFAULT_RETRY_AFTER),
        (ServiceFault.HUGE, ToolBadGatewayError, "tool_bad_gateway", DEFAULT_RETRY_AFTER),
    ],
)
async def test_an_unwell_downstream_is_an_unavailable_error_with_retry_after(
    tools: ExecuteTool,
    semantic_search: FakeSemanticSearch,
    fault: ServiceFault,
    error_class: type[ToolUnavailableError],
    code: str,
    retry_after: float,
) -> None:
    semantic_search.fault = fault
    with pytest.raises(ToolUnavailableError) as raised:
        await tools.execute(*SEARCH)
    assert type(raised.value) is error_class
    assert raised.value.code == code
    assert raised.value.retry_after == retry_after
    assert "127.0.0.1" not in raised.value.message, "no URL in a client-visible message"
    assert len(semantic_search.requests) == 1, "neither retried nor redirected"


@pytest.mark.parametrize("fault", [ServiceFault.HUGE, ServiceFault.HUGE_STREAMED])
async def test_a_body_over_the_cap_is_refused(
    tools: ExecuteTool, semantic_search: FakeSemanticSearch, fault: ServiceFault
) -> None:
    semantic_search.fault = fault
    with pytest.raises(ToolBadGatewayError, match="larger than 2097152 bytes"):
        await tools.execute(*SEARCH)


async def test_an_unreachable_service_is_unavailable(
    wire_tools: Callable[..., tuple[ExecuteTool, Any]],
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    tools, _ = wire_tools(semantic_search_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ToolUnavailableError) as raised:
        await tools.execute(*SEARCH)
    assert type(raised.value) is ToolUnavailableError
    assert raised.value.retry_after == DEFAULT_RETRY_AFTER


async def test_a_downstream_4xx_is_an_unsuccessful_result(
    tools: ExecuteTool, ai_agents: FakeAiAgents
) -> None:
    index = [{"book": "b", "chapter": 1, "title": "t"}]
    result = await tools.execute("enrich_metadata", {"corpus": ["a", "b"], "chapter_index": index})
    assert not result.success
    assert result.error == (
        "The ai_agents service rejected the call to 'enrich_metadata' (HTTP 400)."
    )


async def test_the_circuit_opens_after_repeated_failures_and_recovers_after_the_cooldown(
    tools: ExecuteTool, semantic_search: FakeSemanticSearch, clock: FakeClock
) -> None:
    semantic_search.fault = ServiceFault.SERVER_ERROR
    for _ in range(5):  # the shipped failure_threshold
        with pytest.raises(ToolBadGatewayError):
            await tools.execute(*SEARCH)

    clock.advance(10)
    with pytest.raises(ToolUnavailableError) as raised:
        await tools.execute("get_chunk", {"chunk_id": "c"})
    assert raised.value.code == CIRCUIT_OPEN_CODE
    assert raised.value.retry_after == pytest.approx(20)
    assert len(semantic_search.requests) == 5, "an open circuit sends nothing"

    semantic_search.fault = None
    clock.advance(20)
    result = await tools.execute(*SEARCH)
    assert result.success


async def test_one_service_failing_does_not_open_another_services_circuit(
    tools: ExecuteTool, semantic_search: FakeSemanticSearch, ai_agents: FakeAiAgents
) -> None:
    semantic_search.fault = ServiceFault.UNAVAILABLE
    for _ in range(6):
        with pytest.raises(ToolUnavailableError):
            await tools.execute(*SEARCH)
    arguments = {"book": "b", "chapter": 1, "title": "t", "tier": 2}
    assert (await tools.execute("cross_reference", arguments)).success
    assert (await tools.execute("calculator", {"expression": "1 + 1"})).result["result"] == 2
