"""The server-side tool loop (non-streaming) over CompleteChat and a scripted provider."""

from __future__ import annotations

import json

import pytest

from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.domain.tools import NamedToolChoice, ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import InvalidRequestError, ToolExecutionError, ToolUnavailableError
from gateway_core.testing import FakeClock, Reply
from gateway_core.use_cases.tool_loop import TOOL_CALLS_LIMIT
from tests.unit.tools.fakes import SEARCH_SCHEMA, RecordingBackend, tool_loop

CLIENT_TOOL = ToolSpec("lookup_order", "The client's own tool.", {"type": "object"})


def _request(*tools: ToolSpec, **fields: object) -> ChatRequest:
    return ChatRequest(
        model="m", messages=(Message.user("What is rate limiting?"),), tools=tools, **fields
    )


def _search(query: str = "rate limiting") -> Reply:
    return Reply(tool_calls=(("search_corpus", {"query": query}),))


async def test_without_gateway_tools_it_is_one_plain_model_call() -> None:
    loop, provider, _ = tool_loop([Reply(tool_calls=(("lookup_order", {}),))])
    result = await loop.complete(_request(CLIENT_TOOL))
    assert result.rounds == 1
    assert result.finish_reason == "tool_calls"
    assert result.tool_runs == ()
    assert provider.requests[0].tools == (CLIENT_TOOL,)


async def test_a_tool_named_by_the_client_gets_the_registry_spec() -> None:
    loop, provider, _ = tool_loop([Reply(text="ok")])
    await loop.complete(_request(ToolSpec("search_corpus"), CLIENT_TOOL))
    offered = provider.requests[0].tools
    assert [spec.name for spec in offered] == ["search_corpus", "lookup_order"]
    assert offered[0].parameters == SEARCH_SCHEMA
    assert offered[0].description == "Search."


async def test_offer_all_tools_adds_every_registered_tool_after_the_clients() -> None:
    loop, provider, _ = tool_loop([Reply(text="ok")])
    await loop.complete(_request(CLIENT_TOOL), offer_all_tools=True)
    names = [spec.name for spec in provider.requests[0].tools]
    assert names == ["lookup_order", "search_corpus", "get_chunk", "echo"]


async def test_registered_calls_run_and_the_model_is_called_again_with_the_results() -> None:
    backend = RecordingBackend(answers={"search_corpus": {"results": [{"id": "ch-1"}]}})
    loop, provider, _ = tool_loop([_search(), Reply(text="It limits requests.")], backend)
    result = await loop.complete(_request(ToolSpec("search_corpus")))

    assert backend.calls == [("search_corpus", {"query": "rate limiting"})]
    assert result.response.choices[0].message.text == "It limits requests."
    assert result.finish_reason == "stop"
    assistant, tool_message, final = result.exchange
    assert assistant.tool_calls[0].name == "search_corpus"
    assert tool_message.role == "tool" and tool_message.tool_call_id == "call_0"
    assert json.loads(tool_message.text) == {"results": [{"id": "ch-1"}]}
    assert final == Message.assistant("It limits requests.")
    assert provider.requests[1].messages[-2:] == (assistant, tool_message)
    assert [(run.name, run.success, run.round) for run in result.tool_runs] == [
        ("search_corpus", True, 1)
    ]


async def test_the_calls_of_one_turn_run_concurrently() -> None:
    backend = RecordingBackend(concurrent_calls=2)
    two_calls = Reply(
        tool_calls=(("search_corpus", {"query": "a"}), ("get_chunk", {"chunk_id": "c"}))
    )
    loop, _, _ = tool_loop([two_calls, Reply(text="done")], backend)
    result = await loop.complete(_request(), offer_all_tools=True)
    assert result.response.choices[0].message.text == "done"
    assert [message.tool_call_id for message in result.exchange[1:3]] == ["call_0", "call_1"]


async def test_a_turn_that_calls_a_client_tool_returns_all_its_calls_to_the_client() -> None:
    mixed = Reply(tool_calls=(("search_corpus", {"query": "a"}), ("lookup_order", {"id": 7})))
    loop, provider, backend = tool_loop([mixed, Reply(text="never")])
    result = await loop.complete(_request(ToolSpec("search_corpus"), CLIENT_TOOL))
    assert backend.calls == []
    assert len(provider.requests) == 1
    assert result.finish_reason == "tool_calls"
    calls = result.response.choices[0].message.tool_calls
    assert [call.name for call in calls] == ["search_corpus", "lookup_order"]
    assert result.exchange == (result.response.choices[0].message,)


async def test_a_model_that_keeps_calling_tools_stops_at_the_round_limit() -> None:
    loop, provider, backend = tool_loop([], max_rounds=2)
    again = (("search_corpus", {"query": "x"}),)
    provider.default = Reply(text="Searching again.", tool_calls=again)
    result = await loop.complete(_request(ToolSpec("search_corpus")))

    assert result.finish_reason == TOOL_CALLS_LIMIT
    assert len(backend.calls) == 2
    assert result.rounds == 3
    final = result.response.choices[0].message
    assert final.tool_calls == () and final.text == "Searching again."
    assert result.exchange[-1] == final
    assert result.notice is not None and "2 round(s)" in result.notice
    assert "search_corpus" in result.notice


async def test_max_rounds_zero_runs_no_tool_at_all() -> None:
    loop, _, backend = tool_loop([_search()], max_rounds=0)
    result = await loop.complete(_request(ToolSpec("search_corpus")))
    assert result.finish_reason == TOOL_CALLS_LIMIT
    assert backend.calls == []


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (ToolUnavailableError("The remote service is unavailable."), "tool_unavailable"),
        (ToolExecutionError("The remote service rejected the call."), "tool_execution_failed"),
    ],
)
async def test_a_failing_tool_becomes_an_error_result_the_model_sees(
    failure: Exception, code: str
) -> None:
    backend = RecordingBackend(answers={"search_corpus": failure})
    loop, _, _ = tool_loop([_search(), Reply(text="Sorry, search is down.")], backend)
    result = await loop.complete(_request(ToolSpec("search_corpus")))

    assert result.response.choices[0].message.text == "Sorry, search is down."
    error = json.loads(result.exchange[1].text)["error"]
    assert error == {"code": code, "message": str(failure)}
    (run,) = result.tool_runs
    assert not run.success and run.error_code == code and run.error == str(failure)


async def test_arguments_that_break_the_schema_are_an_error_result_not_a_call() -> None:
    bad = Reply(tool_calls=(("search_corpus", {"query": "x", "top_k": 0}),))
    loop, _, backend = tool_loop([bad, Reply(text="ok")])
    result = await loop.complete(_request(ToolSpec("search_corpus")))
    assert backend.calls == []
    error = json.loads(result.exchange[1].text)["error"]
    assert error["code"] == "invalid_tool_arguments"
    assert "top_k" in error["message"]


async def test_a_long_result_is_truncated_with_a_marker() -> None:
    backend = RecordingBackend(answers={"search_corpus": "x" * 100})
    loop, _, _ = tool_loop([_search(), Reply(text="ok")], backend, max_result_chars=10)
    result = await loop.complete(_request(ToolSpec("search_corpus")))
    assert result.exchange[1].text == (
        "x" * 10 + "\n[truncated by the gateway: 10 of 100 characters shown]"
    )


async def test_usage_adds_up_over_all_rounds() -> None:
    replies = [
        Reply(tool_calls=(("search_corpus", {"query": "a"}),), usage=Usage(10, 5, 2)),
        Reply(text="done", usage=Usage(30, 7)),
    ]
    loop, _, _ = tool_loop(replies)
    result = await loop.complete(_request(ToolSpec("search_corpus")))
    assert result.usage == Usage(40, 12, 2)


async def test_a_forced_tool_choice_holds_for_the_first_call_only() -> None:
    loop, provider, _ = tool_loop([_search(), Reply(text="done")])
    request = _request(ToolSpec("search_corpus"), tool_choice=NamedToolChoice("search_corpus"))
    await loop.complete(request)
    assert provider.requests[0].tool_choice == NamedToolChoice("search_corpus")
    assert provider.requests[1].tool_choice == "auto"


async def test_tool_runs_report_how_long_each_took() -> None:
    clock = FakeClock()
    backend = RecordingBackend(clock=clock, seconds_per_call=0.25)
    loop, _, _ = tool_loop([_search(), Reply(text="ok")], backend, clock=clock)
    result = await loop.complete(_request(ToolSpec("search_corpus")))
    assert result.tool_runs[0].duration_ms == pytest.approx(250.0)


async def test_gateway_tools_cannot_be_combined_with_several_choices() -> None:
    loop, _, _ = tool_loop([])
    with pytest.raises(InvalidRequestError) as raised:
        await loop.complete(_request(ToolSpec("echo"), n=2))
    assert raised.value.param == "n"


def test_the_loop_engages_only_when_gateway_tools_are_offered() -> None:
    loop, _, _ = tool_loop([])
    assert not loop.engages(_request(CLIENT_TOOL))
    assert loop.engages(_request(CLIENT_TOOL, ToolSpec("echo")))
    assert loop.engages(_request(), offer_all_tools=True)
