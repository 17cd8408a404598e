"""``GET /v1/tools`` and ``POST /v1/tools/execute`` over real HTTP, against the real gateway and
fake semantic-search and ai-agents services on real sockets (see ``tests/e2e/tools_fixtures``)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("tests.e2e.tools_fixtures")

from tests.e2e.tools_fixtures import (  # noqa: E402 - after the rewrite hook
    BACKEND_RETRY_AFTER,
    COOLDOWN_SECONDS,
    FAILURE_THRESHOLD,
    TOOL_TIMEOUT_SECONDS,
    tools_document,
)
from tests.support.background_loop import BackgroundLoop  # noqa: E402
from tests.support.fake_services import (  # noqa: E402
    RETRY_AFTER_SECONDS,
    FakeAiAgents,
    FakeSemanticSearch,
    ServiceFault,
)

pytest_plugins = ["tests.e2e.tools_fixtures"]

SHIPPED_TOOLS = [
    "search_corpus", "get_chunk", "cross_reference", "enrich_metadata", "echo", "calculator",
]  # fmt: skip
HITS = [
    {"id": "ch-12", "score": 0.83, "payload": {"text": "Token buckets", "_collection": "chapters"}},
    {"id": "ch-7", "score": 0.61, "payload": {"text": "Leaky buckets", "_collection": "chapters"}},
    {"id": "ch-3", "score": 0.42, "payload": {"text": "Queues", "_collection": "chapters"}},
]
CHAPTER_INDEX = [{"book": "Architecture Patterns with Python", "chapter": 2, "title": "Repository"}]
CROSS_REFERENCE = {
    "book": "Designing Data-Intensive Applications",
    "chapter": 5,
    "title": "Replication",
    "tier": 2,
    "keywords": ["leader", "follower"],
    "max_hops": 2,
    "taxonomy_id": "ai-ml",
}


def execute(
    client: httpx.Client, name: str, arguments: dict[str, Any], **extra: Any
) -> httpx.Response:
    return client.post("/v1/tools/execute", json={"name": name, "arguments": arguments, **extra})


def error_of(response: httpx.Response) -> dict[str, Any]:
    return response.json()["error"]


FakeService = FakeSemanticSearch | FakeAiAgents


async def _set_fault(service: FakeService, fault: ServiceFault | None) -> None:
    service.fault = fault


def set_fault(loop: BackgroundLoop, service: FakeService, fault: ServiceFault | None) -> None:
    """On the services' loop, which reads ``fault`` for every request."""
    loop.run(_set_fault(service, fault))


SEARCH_RETRY_AFTER = BACKEND_RETRY_AFTER["semantic_search"]


# -- GET /v1/tools ---------------------------------------------------------------------------


def test_list_tools_is_an_array_of_name_description_parameters(tools_http: httpx.Client) -> None:
    response = tools_http.get("/v1/tools")
    assert response.status_code == 200
    listed = response.json()
    assert isinstance(listed, list)
    assert [tool["name"] for tool in listed] == SHIPPED_TOOLS
    configured = {tool["name"]: tool for tool in tools_document()["tools"]}
    for tool in listed:
        assert set(tool) == {"name", "description", "parameters"}
        assert tool["description"] == configured[tool["name"]]["description"]
        assert tool["parameters"] == configured[tool["name"]]["parameters"]


# -- every shipped tool ----------------------------------------------------------------------


def test_search_corpus_sends_exactly_the_fields_the_service_accepts(
    tools_http: httpx.Client, semantic_search: FakeSemanticSearch
) -> None:
    semantic_search.results.extend(HITS)
    arguments = {"query": "rate limiting", "top_k": 2, "collection": "chapters"}
    response = execute(tools_http, "search_corpus", arguments)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["error"] is None and body["name"] == "search_corpus"
    assert [hit["id"] for hit in body["result"]["results"]] == ["ch-12", "ch-7"]
    assert body["result"]["total"] == 2
    [sent] = semantic_search.requests
    assert (sent.method, sent.path) == ("POST", "/v1/search")
    assert sent.body == {"query": "rate limiting", "limit": 2, "collection": "chapters"}


def test_search_corpus_maps_min_score_and_drops_arguments_the_service_would_reject(
    tools_http: httpx.Client, semantic_search: FakeSemanticSearch
) -> None:
    semantic_search.results.extend(HITS)
    arguments = {"query": "queues", "min_score": 0.5, "filters": {"year": 2020}, "top_k": 10}
    response = execute(tools_http, "search_corpus", arguments)
    assert response.status_code == 200, response.text
    assert [hit["id"] for hit in response.json()["result"]["results"]] == ["ch-12", "ch-7"]
    [sent] = semantic_search.requests
    assert sent.body == {"query": "queues", "limit": 10, "min_score": 0.5}


def test_tool_name_spelling_with_tool_call_id_is_echoed(
    tools_http: httpx.Client, semantic_search: FakeSemanticSearch
) -> None:
    semantic_search.results.extend(HITS[:1])
    body = {
        "tool_name": "search_corpus",
        "arguments": {"query": "rate limiting", "top_k": 1, "collection": "chapters"},
        "tool_call_id": "call_abc123",
    }
    response = tools_http.post("/v1/tools/execute", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["tool_call_id"] == "call_abc123"
    assert answer["name"] == "search_corpus" and answer["success"] is True
    assert answer["result"]["results"][0]["id"] == "ch-12"


def test_name_spelling_without_tool_call_id_has_none(tools_http: httpx.Client) -> None:
    response = execute(tools_http, "echo", {"text": "hi"})
    assert response.status_code == 200
    expected = {"name": "echo", "result": {"text": "hi"}, "success": True, "error": None}
    assert response.json() == expected


def test_get_chunk_returns_the_whole_chunk(
    tools_http: httpx.Client, semantic_search: FakeSemanticSearch
) -> None:
    chunk = {"id": "ch-12", "text": "Token buckets refill at a fixed rate.", "book": "SRE"}
    semantic_search.chunks["ch-12"] = chunk
    response = execute(tools_http, "get_chunk", {"chunk_id": "ch-12"})
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    assert response.json()["result"] == chunk
    [sent] = semantic_search.requests
    assert (sent.method, sent.path) == ("GET", "/v1/chunks/ch-12")


def test_get_chunk_of_a_missing_chunk_is_404_tool_item_not_found(
    tools_http: httpx.Client, semantic_search: FakeSemanticSearch
) -> None:
    response = execute(tools_http, "get_chunk", {"chunk_id": "no-such-chunk"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "tool_item_not_found"
    assert [r.path for r in semantic_search.requests] == ["/v1/chunks/no-such-chunk"]


def test_a_chunk_id_cannot_climb_out_of_its_path_segment(
    tools_http: httpx.Client, semantic_search: FakeSemanticSearch
) -> None:
    response = execute(tools_http, "get_chunk", {"chunk_id": "../../health"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "tool_item_not_found"
    assert all(not r.path.startswith("/health") for r in semantic_search.requests)


def test_unknown_tool_is_404_tool_not_found(tools_http: httpx.Client) -> None:
    response = execute(tools_http, "no_such_tool", {})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "tool_not_found"
    assert "no_such_tool" in error["message"]


def test_enrich_metadata_reads_result_chapters(
    tools_http: httpx.Client, ai_agents: FakeAiAgents
) -> None:
    arguments = {
        "corpus": ["Chapter text"],
        "chapter_index": CHAPTER_INDEX,
        "config": {"threshold": 0.5},
    }
    response = execute(tools_http, "enrich_metadata", arguments)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert [c["title"] for c in body["result"]["chapters"]] == ["Repository"]
    [sent] = ai_agents.requests
    assert sent.path == "/v1/agents/enrich-metadata"
    assert sent.body == arguments


def test_cross_reference_nests_arguments_as_the_agent_expects(
    tools_http: httpx.Client, ai_agents: FakeAiAgents
) -> None:
    response = execute(tools_http, "cross_reference", CROSS_REFERENCE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["result"]["chapters"] == ai_agents.chapters
    [sent] = ai_agents.requests
    assert sent.path == "/v1/agents/cross-reference"
    assert sent.body == {
        "source": {
            "book": "Designing Data-Intensive Applications",
            "chapter": 5,
            "title": "Replication",
            "tier": 2,
            "keywords": ["leader", "follower"],
        },
        "config": {"max_hops": 2},
        "taxonomy_id": "ai-ml",
    }


def test_echo_and_calculator_run_in_process(tools_http: httpx.Client) -> None:
    echoed = execute(tools_http, "echo", {"text": "héllo"})
    assert echoed.json()["result"] == {"text": "héllo"}
    calculated = execute(tools_http, "calculator", {"expression": "(2 + 3) * 4 ** 2 / 8"})
    assert calculated.status_code == 200
    assert calculated.json()["result"] == {"expression": "(2 + 3) * 4 ** 2 / 8", "result": 10.0}


def test_a_local_tool_that_fails_is_a_failed_result(tools_http: httpx.Client) -> None:
    response = execute(tools_http, "calculator", {"expression": "__import__('os').getcwd()"})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False and body["result"] is None
    assert body["error"]


# -- bad requests ----------------------------------------------------------------------------


def _enrich(**changes: Any) -> dict[str, Any]:
    return {"corpus": ["t"], "chapter_index": CHAPTER_INDEX, **changes}


@pytest.mark.parametrize(
    ("name", "arguments", "param"),
    [
        ("search_corpus", {"query": "x", "top_k": 0}, "top_k"),
        ("search_corpus", {"query": "x", "top_k": "ten"}, "top_k"),
        ("search_corpus", {"top_k": 3}, "query"),
        ("get_chunk", {}, "chunk_id"),
        ("cross_reference", {**CROSS_REFERENCE, "tier": 4}, "tier"),
        ("enrich_metadata", _enrich(chapter_index=[{"book": "B", "chapter": 1}]),
         "chapter_index.0.title"),
        ("enrich_metadata", _enrich(chapter_index=[{**CHAPTER_INDEX[0], "chapter": 0}]),
         "chapter_index.0.chapter"),
        ("enrich_metadata", _enrich(config={"threshold": 2}), "config.threshold"),
    ],
)  # fmt: skip
def test_arguments_breaking_the_schema_are_422_naming_the_argument(
    tools_http: httpx.Client,
    services: tuple[FakeSemanticSearch, FakeAiAgents],
    name: str,
    arguments: dict[str, Any],
    param: str,
) -> None:
    response = execute(tools_http, name, arguments)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_tool_arguments"
    assert error["param"] == param
    assert param in error["message"]
    assert not services[0].requests and not services[1].requests, "nothing may reach a service"


def test_a_body_without_a_tool_name_is_400(tools_http: httpx.Client) -> None:
    response = tools_http.post("/v1/tools/execute", json={"arguments": {}})
    assert response.status_code == 400
    assert error_of(response)["param"] == "name"


def test_arguments_that_are_not_an_object_are_400_naming_them(tools_http: httpx.Client) -> None:
    response = tools_http.post("/v1/tools/execute", json={"name": "echo", "arguments": ["hi"]})
    assert response.status_code == 400
    assert error_of(response)["param"] == "arguments"


def test_a_body_that_is_not_json_is_400(tools_http: httpx.Client) -> None:
    response = tools_http.post(
        "/v1/tools/execute", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"


# -- downstream failures ---------------------------------------------------------------------


def test_a_downstream_4xx_is_a_failed_result_not_an_http_error(
    tools_http: httpx.Client, ai_agents: FakeAiAgents
) -> None:
    # Two texts, one index entry: the agent answers 400.
    arguments = {"corpus": ["one", "two"], "chapter_index": CHAPTER_INDEX}
    response = execute(tools_http, "enrich_metadata", arguments)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is False and body["result"] is None
    assert "400" in body["error"]
    assert ai_agents.url not in body["error"], "an error never shows a downstream URL"


@pytest.mark.parametrize(
    ("fault", "status", "code", "retry_after"),
    [
        (ServiceFault.SERVER_ERROR, 502, "tool_bad_gateway", SEARCH_RETRY_AFTER),
        (ServiceFault.UNAVAILABLE, 503, "tool_unavailable", RETRY_AFTER_SECONDS),
        (ServiceFault.REDIRECT, 502, "tool_bad_gateway", SEARCH_RETRY_AFTER),
        (ServiceFault.HUGE, 502, "tool_bad_gateway", SEARCH_RETRY_AFTER),
        (ServiceFault.HUGE_STREAMED, 502, "tool_bad_gateway", SEARCH_RETRY_AFTER),
    ],
)
def test_a_downstream_5xx_is_transient_with_retry_after(
    tools_http: httpx.Client,
    background_loop: BackgroundLoop,
    semantic_search: FakeSemanticSearch,
    fault: ServiceFault,
    status: int,
    code: str,
    retry_after: int,
) -> None:
    set_fault(background_loop, semantic_search, fault)
    response = execute(tools_http, "search_corpus", {"query": "x"})
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code
    assert response.headers["retry-after"] == str(retry_after)
    assert len(semantic_search.requests) == 1, "a redirect is not followed, nothing is retried"


def test_a_downstream_that_hangs_is_504_after_the_timeout(
    tools_http: httpx.Client, background_loop: BackgroundLoop, semantic_search: FakeSemanticSearch
) -> None:
    set_fault(background_loop, semantic_search, ServiceFault.HANG)
    started = time.monotonic()
    response = execute(tools_http, "get_chunk", {"chunk_id": "ch-1"})
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert error_of(response)["code"] == "tool_timeout"
    assert response.headers["retry-after"] == str(SEARCH_RETRY_AFTER)
    assert TOOL_TIMEOUT_SECONDS <= elapsed < TOOL_TIMEOUT_SECONDS + 2


def test_repeated_failures_open_the_circuit_then_it_heals(
    tools_http: httpx.Client, background_loop: BackgroundLoop, ai_agents: FakeAiAgents
) -> None:
    set_fault(background_loop, ai_agents, ServiceFault.SERVER_ERROR)
    for _ in range(FAILURE_THRESHOLD):
        assert execute(tools_http, "cross_reference", CROSS_REFERENCE).status_code == 502

    response = execute(tools_http, "cross_reference", CROSS_REFERENCE)
    assert response.status_code == 503, response.text
    assert error_of(response)["code"] == "tool_circuit_open"
    # Retry-After is the cooldown still to run, rounded up to whole seconds: how much of it
    # has passed depends on how fast the calls above went, so only its range is known. It
    # fails for a 0 (a client told to retry at once) or for more than the cooldown.
    assert 1 <= int(response.headers["retry-after"]) <= COOLDOWN_SECONDS + 1
    assert len(ai_agents.requests) == FAILURE_THRESHOLD, "an open circuit calls nobody"
    # The same backend's other tool fails fast too; the semantic-search backend is unaffected.
    enrich = {"corpus": ["t"], "chapter_index": CHAPTER_INDEX}
    assert error_of(execute(tools_http, "enrich_metadata", enrich))["code"] == "tool_circuit_open"
    assert execute(tools_http, "search_corpus", {"query": "x"}).status_code == 200

    set_fault(background_loop, ai_agents, None)
    time.sleep(COOLDOWN_SECONDS + 0.1)
    healed = execute(tools_http, "cross_reference", CROSS_REFERENCE)
    assert healed.status_code == 200, healed.text
    assert healed.json()["success"] is True


def test_the_readiness_check_reports_the_circuits(tools_http: httpx.Client) -> None:
    response = tools_http.get("/health/ready")
    body = json.dumps(response.json())
    assert "semantic_search" in body and "ai_agents" in body
