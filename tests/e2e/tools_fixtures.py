"""A real gateway whose tools point at the fake semantic-search and ai-agents services.

A pytest plugin (``pytest_plugins = ["tests.e2e.tools_fixtures"]`` in a test module), so that
the test files of the tools share one fake of each service and one gateway process.

The gateway runs the shipped ``config/tools.json`` with the HTTP backends' timeouts and
circuit breakers made small, so that the timeout and circuit tests take about a second; its
models are ``tests/e2e/conftest.py``'s, answered by the fake upstream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, providers_config
from tests.support.background_loop import BackgroundLoop
from tests.support.fake_services import FakeAiAgents, FakeSemanticSearch
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import REPO_ROOT, GatewayProcess

TOOL_TIMEOUT_SECONDS = 0.5
FAILURE_THRESHOLD = 3
COOLDOWN_SECONDS = 1.0
MAX_ROUNDS = 2
BACKEND_RETRY_AFTER = {"semantic_search": 5, "ai_agents": 10}
"""The shipped ``retry_after_seconds``: what a 502/504 tells the client to wait."""

# One cheap call per HTTP backend that the fakes always answer with 200.
_HEALTHY_CALLS = (
    {"name": "search_corpus", "arguments": {"query": "ping"}},
    {
        "name": "enrich_metadata",
        "arguments": {
            "corpus": ["text"],
            "chapter_index": [{"book": "B", "chapter": 1, "title": "T"}],
        },
    },
)


def tools_document() -> dict[str, Any]:
    """The shipped tools config with fast timeouts and a circuit that trips and heals quickly."""
    document = json.loads((REPO_ROOT / "config" / "tools.json").read_text(encoding="utf-8"))
    for backend in document["backends"].values():
        if backend["kind"] == "http":
            backend["timeout_seconds"] = TOOL_TIMEOUT_SECONDS
            backend["circuit_breaker"] = {
                "failure_threshold": FAILURE_THRESHOLD,
                "cooldown_seconds": COOLDOWN_SECONDS,
            }
    return document


FakeService = FakeSemanticSearch | FakeAiAgents


async def _start(service: FakeService) -> None:
    await service.start()


async def _reset(service: FakeService) -> None:
    # On the services' own loop: reset() wakes hanging handlers through an asyncio.Event.
    service.reset()


@pytest.fixture(scope="session")
def semantic_search_service(background_loop: BackgroundLoop) -> Iterator[FakeSemanticSearch]:
    service = FakeSemanticSearch()
    background_loop.run(_start(service))
    yield service
    background_loop.run(service.stop())


@pytest.fixture(scope="session")
def ai_agents_service(background_loop: BackgroundLoop) -> Iterator[FakeAiAgents]:
    service = FakeAiAgents()
    background_loop.run(_start(service))
    yield service
    background_loop.run(service.stop())


@pytest.fixture(scope="session")
def tools_gateway(
    fake_upstream_server: FakeUpstream,
    semantic_search_service: FakeSemanticSearch,
    ai_agents_service: FakeAiAgents,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    directory = Path(tmp_path_factory.mktemp("tools-gateway"))
    providers = directory / "providers.json"
    providers.write_text(json.dumps(providers_config(fake_upstream_server.url)))
    tools = directory / "tools.json"
    tools.write_text(json.dumps(tools_document()))
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(providers),
        "LLM_GATEWAY_TOOLS_CONFIG": str(tools),
        "LLM_GATEWAY_SEMANTIC_SEARCH_URL": semantic_search_service.url,
        "LLM_GATEWAY_AI_AGENTS_URL": ai_agents_service.url,
        "LLM_GATEWAY_TOOL_MAX_ROUNDS": str(MAX_ROUNDS),
        "LLM_GATEWAY_CACHE_ENABLED": "false",
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
    }
    with GatewayProcess(env) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def tools_http(tools_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tools_gateway.url, timeout=10.0) as client:
        yield client


@pytest.fixture
def services(
    background_loop: BackgroundLoop,
    semantic_search_service: FakeSemanticSearch,
    ai_agents_service: FakeAiAgents,
    tools_http: httpx.Client,
) -> Iterator[tuple[FakeSemanticSearch, FakeAiAgents]]:
    """Both fakes, reset for the test. Afterwards one successful call per backend closes the
    gateway's failure count again, so one test's faults cannot trip the next test's circuit."""
    for service in (semantic_search_service, ai_agents_service):
        background_loop.run(_reset(service))
    yield semantic_search_service, ai_agents_service
    for service in (semantic_search_service, ai_agents_service):
        background_loop.run(_reset(service))
    for call in _HEALTHY_CALLS:
        response = tools_http.post("/v1/tools/execute", json=call)
        assert response.status_code == 200, f"a circuit was left open: {response.text}"
    for service in (semantic_search_service, ai_agents_service):
        background_loop.run(_reset(service))



@pytest.fixture
def semantic_search(services: tuple[FakeSemanticSearch, FakeAiAgents]) -> FakeSemanticSearch:
    return services[0]


@pytest.fixture
def ai_agents(services: tuple[FakeSemanticSearch, FakeAiAgents]) -> FakeAiAgents:
    return services[1]
