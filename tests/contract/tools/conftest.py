"""Fake downstream services on real sockets, and the shipped tools wired to them."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway_adapters.tools import JsonSchemaArgumentsValidator, LoadedTools, build_tools
from gateway_core.testing import FakeClock
from gateway_core.use_cases.execute_tool import ExecuteTool
from tests.support.fake_services import FakeAiAgents, FakeSemanticSearch

SHIPPED = Path(__file__).parents[3] / "config" / "tools.json"
TIMEOUT_SECONDS = 0.3
"""The shipped timeouts (10 s, 60 s) made short so that the hang tests stay fast."""


@pytest.fixture(scope="session")
async def semantic_search_server() -> AsyncIterator[FakeSemanticSearch]:
    service = FakeSemanticSearch()
    await service.start()
    yield service
    await service.stop()


@pytest.fixture(scope="session")
async def ai_agents_server() -> AsyncIterator[FakeAiAgents]:
    service = FakeAiAgents()
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
def semantic_search(semantic_search_server: FakeSemanticSearch) -> Iterator[FakeSemanticSearch]:
    semantic_search_server.reset()
    yield semantic_search_server
    semantic_search_server.reset()


@pytest.fixture
def ai_agents(ai_agents_server: FakeAiAgents) -> Iterator[FakeAiAgents]:
    ai_agents_server.reset()
    yield ai_agents_server
    ai_agents_server.reset()


@pytest.fixture(scope="session")
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def shipped_document() -> dict[str, Any]:
    document = json.loads(SHIPPED.read_text(encoding="utf-8"))
    for backend in document["backends"].values():
        if backend["kind"] == "http":
            backend["timeout_seconds"] = TIMEOUT_SECONDS
    return document


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wire_tools(
    semantic_search: FakeSemanticSearch,
    ai_agents: FakeAiAgents,
    http_client: httpx.AsyncClient,
    clock: FakeClock,
) -> Callable[..., tuple[ExecuteTool, LoadedTools]]:
    """Build ExecuteTool from (a copy of) the shipped config, pointed at the fakes."""

    def wire(
        change: Callable[[dict[str, Any]], None] | None = None, **settings: str
    ) -> tuple[ExecuteTool, LoadedTools]:
        document = copy.deepcopy(shipped_document())
        if change is not None:
            change(document)
        urls = {"semantic_search_url": semantic_search.url, "ai_agents_url": ai_agents.url}
        loaded = build_tools(
            document, settings={**urls, **settings}, client=http_client, clock=clock
        )
        validator = JsonSchemaArgumentsValidator()
        return ExecuteTool(loaded.registry, loaded.backends, validator), loaded

    return wire


@pytest.fixture
def tools(wire_tools: Callable[..., tuple[ExecuteTool, LoadedTools]]) -> ExecuteTool:
    return wire_tools()[0]
