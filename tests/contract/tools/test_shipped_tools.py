"""Each shipped tool through ExecuteTool and the real backends, against the fake services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway_core.errors import ToolArgumentsError, ToolItemNotFoundError, ToolNotFoundError
from gateway_core.use_cases.execute_tool import ExecuteTool
from tests.support.fake_services import FakeAiAgents, FakeSemanticSearch

HIT = {"id": "ch-12", "score": 0.83, "payload": {"text": "...", "_collection": "chapters"}}
WEAK = {"id": "ch-40", "score": 0.2, "payload": {"text": "..."}}


async def test_search_corpus_sends_only_the_fields_the_service_accepts(
    tools: ExecuteTool, semantic_search: FakeSemanticSearch
) -> None:
    semantic_search.results.extend([HIT, WEAK])
    arguments = {"query": "rate limiting", "top_k": 5, "collection": "chapters", "min_score": 0.5}
    result = await tools.execute("search_corpus", arguments, "call_1")

    assert result.success and result.tool_call_id == "call_1"
    assert result.result["results"] == [HIT]
    assert result.result["total"] == 1
    (request,) = semantic_search.requests
    assert (request.method, request.path) == ("POST", "/v1/search")
    assert request.body == {
        "query": "rate limiting", "limit": 5, "collection": "chapters", "min_score": 0.5
    }


async def test_search_corpus_leaves_out_arguments_not_given(
    tools: ExecuteTool, semantic_search: FakeSemanticSearch
) -> None:
    result = await tools.execute("search_corpus", {"query": "q"})
    assert result.success
    assert semantic_search.requests[0].body == {"query": "q"}


async def test_get_chunk_returns_the_chunk(
    tools: ExecuteTool, semantic_search: FakeSemanticSearch
) -> None:
    semantic_search.chunks["a/b c"] = {"id": "a/b c", "text": "chunk text"}
    result = await tools.execute("get_chunk", {"chunk_id": "a/b c"})
    assert result.result == {"id": "a/b c", "text": "chunk text"}
    assert semantic_search.requests[0].method == "GET"


async def test_get_chunk_of_a_missing_chunk_is_an_item_not_found(
    tools: ExecuteTool, semantic_search: FakeSemanticSearch
) -> None:
    with pytest.raises(ToolItemNotFoundError) as raised:
        await tools.execute("get_chunk", {"chunk_id": ".."})
    assert raised.value.code == "tool_item_not_found"
    assert semantic_search.requests[0].path == "/v1/chunks/..", "'..' stays one segment"


async def test_cross_reference_nests_its_arguments_as_the_agent_expects(
    tools: ExecuteTool, ai_agents: FakeAiAgents
) -> None:
    arguments = {"book": "APWP", "chapter": 2, "title": "Repository", "tier": 1, "max_hops": 2}
    result = await tools.execute("cross_reference", arguments)

    assert result.success
    assert result.result["chapters"] == ai_agents.chapters
    assert ai_agents.requests[0].body == {
        "source": {"book": "APWP", "chapter": 2, "title": "Repository", "tier": 1},
        "config": {"max_hops": 2},
    }


async def test_enrich_metadata_returns_the_chapters(
    tools: ExecuteTool, ai_agents: FakeAiAgents
) -> None:
    index = [{"book": "APWP", "chapter": 1, "title": "Domain"}]
    result = await tools.execute("enrich_metadata", {"corpus": ["text"], "chapter_index": index})
    assert result.success
    assert [chapter["title"] for chapter in result.result["chapters"]] == ["Domain"]
    assert ai_agents.requests[0].path == "/v1/agents/enrich-metadata"


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("echo", {"text": "hi"}, {"text": "hi"}),
        ("calculator", {"expression": "(2 + 3) * 4"}, {"expression": "(2 + 3) * 4", "result": 20}),
    ],
)
async def test_local_tools_run_in_process(
    tools: ExecuteTool, name: str, arguments: dict[str, Any], expected: Any
) -> None:
    result = await tools.execute(name, arguments)
    assert result.success and result.result == expected


async def test_a_local_tool_that_fails_is_an_unsuccessful_result(tools: ExecuteTool) -> None:
    result = await tools.execute("calculator", {"expression": "1 / 0"})
    assert not result.success and result.error == "Division by zero."


async def test_an_unknown_tool_is_not_found(tools: ExecuteTool) -> None:
    with pytest.raises(ToolNotFoundError):
        await tools.execute("delete_corpus", {})


@pytest.mark.parametrize(
    ("name", "arguments", "param"),
    [
        ("search_corpus", {"query": "q", "top_k": 0}, "top_k"),
        ("search_corpus", {"query": "q", "min_score": 1.5}, "min_score"),
        ("search_corpus", {"top_k": 3}, "query"),
        ("get_chunk", {"chunk_id": 7}, "chunk_id"),
        ("enrich_metadata", {"corpus": ["t"], "chapter_index": [{"book": "b"}]},
         "chapter_index.0.chapter"),
    ],
)
async def test_schema_violations_name_the_argument_and_reach_no_service(
    tools: ExecuteTool,
    semantic_search: FakeSemanticSearch,
    ai_agents: FakeAiAgents,
    name: str,
    arguments: dict[str, Any],
    param: str,
) -> None:
    with pytest.raises(ToolArgumentsError) as raised:
        await tools.execute(name, arguments)
    assert raised.value.param == param
    assert semantic_search.requests == [] and ai_agents.requests == []


async def test_the_fake_search_service_is_as_strict_as_the_real_one(
    wire_tools: Callable[..., tuple[ExecuteTool, Any]], semantic_search: FakeSemanticSearch
) -> None:
    def leak_an_argument(document: dict[str, Any]) -> None:
        search = document["tools"][0]
        search["parameters"]["properties"]["debug"] = {"type": "boolean"}
        search["http"]["body"]["debug"] = "debug"

    tools, _ = wire_tools(leak_an_argument)
    result = await tools.execute("search_corpus", {"query": "q", "debug": True})
    assert not result.success
    assert result.error is not None and "HTTP 422" in result.error
