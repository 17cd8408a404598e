"""The server-side tool loop end to end: the official openai SDK -> the real gateway -> the fake
upstream (OpenAI, Anthropic and Ollama wire formats) scripted to call the gateway's tools,
which run against the fake semantic-search service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from gateway_http.settings import Settings

pytest.register_assert_rewrite("tests.e2e.tools_fixtures")

from tests.e2e.conftest import VENDOR_MODELS  # noqa: E402
from tests.e2e.tools_fixtures import MAX_ROUNDS, tools_document  # noqa: E402
from tests.support.background_loop import BackgroundLoop  # noqa: E402
from tests.support.fake_services import FakeSemanticSearch, ServiceFault  # noqa: E402
from tests.support.fake_upstream import FakeUpstream, RecordedRequest, Turn  # noqa: E402
from tests.support.gateway import GatewayProcess  # noqa: E402

pytest_plugins = ["tests.e2e.tools_fixtures"]

VENDORS = list(VENDOR_MODELS)
SEARCH_BY_NAME = {"type": "function", "function": {"name": "search_corpus"}}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
QUESTION = [{"role": "user", "content": "How do token buckets work?"}]
SEARCH_ARGUMENTS = {"query": "token bucket", "top_k": 2, "collection": "chapters"}
HITS = [
    {"id": "ch-12", "score": 0.83, "payload": {"text": "Token buckets refill at a rate."}},
    {"id": "ch-7", "score": 0.61, "payload": {"text": "Leaky buckets drain."}},
]
ANSWER = "Token buckets refill at a fixed rate (see ch-12)."
CALL_SEARCH = Turn(
    text=None,
    tool_calls=(("search_corpus", SEARCH_ARGUMENTS),),
    prompt_tokens=40,
    completion_tokens=6,
)
ANSWER_TURN = Turn(text=ANSWER, prompt_tokens=90, completion_tokens=12)
SCHEMAS = {tool["name"]: tool["parameters"] for tool in tools_document()["tools"]}


@pytest.fixture
def client(
    tools_gateway: GatewayProcess,
    fake_upstream: FakeUpstream,
    semantic_search: FakeSemanticSearch,
) -> openai.OpenAI:
    semantic_search.results.extend(HITS)
    return openai.OpenAI(base_url=f"{tools_gateway.url}/v1", api_key="client-key", max_retries=0)


# -- what the upstream received, in each vendor's words --------------------------------------


def offered_tools(request: RecordedRequest) -> dict[str, Any]:
    """Tool name -> the JSON Schema the model was offered."""
    tools = request.body.get("tools") or []
    if request.path == "/v1/messages":
        return {tool["name"]: tool["input_schema"] for tool in tools}
    return {tool["function"]["name"]: tool["function"].get("parameters") for tool in tools}


def tool_results(request: RecordedRequest) -> list[str]:
    """The text of every tool result in the conversation the model was sent."""
    texts: list[str] = []
    for message in request.body["messages"]:
        if message["role"] == "tool":
            texts.append(message["content"])
        elif isinstance(message.get("content"), list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    texts.append(_block_text(block["content"]))
    return texts


def _block_text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content if part.get("type") == "text")


def extension(model: Any) -> dict[str, Any]:
    """The gateway's ``x_gateway`` field, which the SDK keeps as an extra."""
    return (model.model_extra or {}).get("x_gateway") or {}


@dataclass(frozen=True)
class Answer:
    completion: Any
    """The SDK's completion: ``create``'s, or for a stream ``get_final_completion()``."""
    gateway: dict[str, Any]
    """``x_gateway``, merged over the stream's chunks."""
    content_deltas: int = 0
    """How many pieces a streamed answer's content arrived in."""


def ask(client: openai.OpenAI, stream: bool, **params: Any) -> Answer:
    if not stream:
        completion = client.chat.completions.create(**params)
        return Answer(completion, extension(completion))
    gateway: dict[str, Any] = {}
    deltas = 0
    with client.chat.completions.stream(stream_options={"include_usage": True}, **params) as events:
        for event in events:
            if event.type == "chunk":
                gateway.update(extension(event.chunk))
            deltas += event.type == "content.delta"
        final = events.get_final_completion()
    return Answer(final, gateway, deltas)


# -- the loop --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_the_gateway_runs_search_corpus_and_returns_the_answer(
    vendor: str,
    stream: bool,
    client: openai.OpenAI,
    fake_upstream: FakeUpstream,
    semantic_search: FakeSemanticSearch,
) -> None:
    fake_upstream.script(CALL_SEARCH, ANSWER_TURN)
    answer = ask(
        client, stream, model=VENDOR_MODELS[vendor], messages=QUESTION, tools=[SEARCH_BY_NAME]
    )

    choice = answer.completion.choices[0]
    assert choice.message.content == ANSWER
    assert choice.finish_reason == "stop"
    assert not choice.message.tool_calls
    assert answer.completion.usage is not None
    assert answer.completion.usage.prompt_tokens == 40 + 90
    assert answer.completion.usage.completion_tokens == 6 + 12
    assert answer.completion.usage.total_tokens == 40 + 90 + 6 + 12

    [run] = answer.gateway["tool_runs"]
    assert (run["name"], run["success"], run["round"]) == ("search_corpus", True, 1)
    assert run["error"] is None
    if stream:
        assert answer.content_deltas > 1, "the answer streams as it is written, not buffered"

    first, second = fake_upstream.requests
    # Named only, the tool reached the model with the registry's schema.
    assert offered_tools(first) == {"search_corpus": SCHEMAS["search_corpus"]}
    [result] = tool_results(second)
    assert [hit["id"] for hit in json.loads(result)["results"]] == ["ch-12", "ch-7"]
    [search] = semantic_search.requests
    assert search.body == {"query": "token bucket", "limit": 2, "collection": "chapters"}


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])  # local models cost nothing
def test_the_cost_adds_up_over_all_rounds(
    vendor: str, client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(CALL_SEARCH, ANSWER_TURN)
    looped = client.chat.completions.create(
        model=VENDOR_MODELS[vendor], messages=QUESTION, tools=[SEARCH_BY_NAME]
    )
    # One plain call that used as many tokens as both rounds together costs the same.
    both_rounds = Turn(text=ANSWER, prompt_tokens=40 + 90, completion_tokens=6 + 12)
    fake_upstream.script(both_rounds)
    plain = client.chat.completions.create(model=VENDOR_MODELS[vendor], messages=QUESTION)
    assert extension(plain)["cost_usd"] > 0
    assert extension(looped)["cost_usd"] == pytest.approx(extension(plain)["cost_usd"])


def test_the_loop_streams_one_well_formed_openai_stream(
    tools_gateway: GatewayProcess, fake_upstream: FakeUpstream, semantic_search: FakeSemanticSearch
) -> None:
    semantic_search.results.extend(HITS)
    fake_upstream.script(CALL_SEARCH, ANSWER_TURN)
    body = {
        "model": "gpt-4o",
        "messages": QUESTION,
        "tools": [SEARCH_BY_NAME],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    url = f"{tools_gateway.url}/v1/chat/completions"
    with httpx.stream("POST", url, json=body, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert len({event["id"] for event in events}) == 1
    assert all(event["object"] == "chat.completion.chunk" for event in events)
    choices = [event["choices"][0] for event in events if event["choices"]]
    assert [c["delta"].get("role") for c in choices if "role" in c["delta"]] == ["assistant"]
    assert choices[0]["delta"].get("role") == "assistant"
    [finish] = [e for e in events if e["choices"] and e["choices"][0]["finish_reason"]]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert [run["name"] for run in finish["x_gateway"]["tool_runs"]] == ["search_corpus"]
    assert not any("tool_calls" in c["delta"] for c in choices), "the gateway's calls stay inside"
    assert "".join(c["delta"].get("content") or "" for c in choices) == ANSWER
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] == 40 + 6 + 90 + 12


@pytest.mark.parametrize(
    ("vendor", "forced", "then"),
    [
        ("openai", {"type": "function", "function": {"name": "search_corpus"}}, "auto"),
        ("anthropic", {"type": "tool", "name": "search_corpus"}, {"type": "auto"}),
    ],
)
def test_a_forced_tool_choice_holds_for_the_first_model_call_only(
    vendor: str, forced: Any, then: Any, client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(CALL_SEARCH, ANSWER_TURN)
    completion = client.chat.completions.create(
        model=VENDOR_MODELS[vendor],
        messages=QUESTION,
        tools=[SEARCH_BY_NAME],
        tool_choice={"type": "function", "function": {"name": "search_corpus"}},
    )
    assert completion.choices[0].message.content == ANSWER
    first, second = fake_upstream.requests
    assert (first.body["tool_choice"], second.body["tool_choice"]) == (forced, then)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_model_that_calls_tools_forever_stops_at_the_limit(
    vendor: str, stream: bool, client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    texts = [f"Searching, take {n}." for n in range(1, MAX_ROUNDS + 2)]
    fake_upstream.script(*(Turn(text=text, tool_calls=CALL_SEARCH.tool_calls) for text in texts))
    answer = ask(
        client, stream, model=VENDOR_MODELS[vendor], messages=QUESTION, tools=[SEARCH_BY_NAME]
    )

    choice = answer.completion.choices[0]
    assert choice.finish_reason == "tool_calls_limit"
    assert not choice.message.tool_calls, "the calls past the limit are not the client's"
    # Streamed, every round's text went out as it came (rounds separated by a blank line).
    assert choice.message.content == ("\n\n".join(texts) if stream else texts[-1])
    assert len(fake_upstream.requests) == MAX_ROUNDS + 1
    assert [run["round"] for run in answer.gateway["tool_runs"]] == list(range(1, MAX_ROUNDS + 1))
    assert f"after {MAX_ROUNDS} round" in answer.gateway["notice"]
    assert answer.completion.usage is not None
    assert answer.completion.usage.completion_tokens == 7 * (MAX_ROUNDS + 1)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_turn_mixing_client_and_gateway_tools_goes_back_to_the_client(
    vendor: str,
    stream: bool,
    client: openai.OpenAI,
    fake_upstream: FakeUpstream,
    semantic_search: FakeSemanticSearch,
) -> None:
    calls = (("search_corpus", SEARCH_ARGUMENTS), ("get_weather", {"city": "Paris"}))
    fake_upstream.script(Turn(text=None, tool_calls=calls))
    answer = ask(
        client,
        stream,
        model=VENDOR_MODELS[vendor],
        messages=QUESTION,
        tools=[SEARCH_BY_NAME, WEATHER_TOOL],
    )

    choice = answer.completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    returned = [
        (call.function.name, json.loads(call.function.arguments))
        for call in choice.message.tool_calls
    ]
    assert returned == [("search_corpus", SEARCH_ARGUMENTS), ("get_weather", {"city": "Paris"})]
    assert all(call.id for call in choice.message.tool_calls)
    assert "tool_runs" not in answer.gateway
    assert len(fake_upstream.requests) == 1
    assert not semantic_search.requests, "nothing is executed when control goes back"
    offered = offered_tools(fake_upstream.requests[0])
    assert offered["search_corpus"] == SCHEMAS["search_corpus"]
    assert offered["get_weather"] == WEATHER_TOOL["function"]["parameters"]


@pytest.mark.parametrize(
    ("vendor", "stream"), [(vendor, False) for vendor in VENDORS] + [("openai", True)]
)
def test_a_failing_tool_is_an_error_result_the_model_sees(
    vendor: str,
    stream: bool,
    client: openai.OpenAI,
    fake_upstream: FakeUpstream,
    background_loop: BackgroundLoop,
    semantic_search: FakeSemanticSearch,
) -> None:
    background_loop.run(_fail(semantic_search))
    recovery = "The search service is down; from memory: tokens refill at a fixed rate."
    fake_upstream.script(CALL_SEARCH, Turn(text=recovery))
    answer = ask(
        client, stream, model=VENDOR_MODELS[vendor], messages=QUESTION, tools=[SEARCH_BY_NAME]
    )

    assert answer.completion.choices[0].message.content == recovery
    assert answer.completion.choices[0].finish_reason == "stop"
    [run] = answer.gateway["tool_runs"]
    assert run["success"] is False and run["error"]
    [result] = tool_results(fake_upstream.requests[1])
    error = json.loads(result)["error"]
    assert error["code"] == "tool_bad_gateway"
    assert error["message"] and semantic_search.url not in error["message"]


async def _fail(service: FakeSemanticSearch) -> None:
    service.fault = ServiceFault.SERVER_ERROR


def test_the_calls_of_one_turn_all_run_and_their_results_go_back_in_order(
    client: openai.OpenAI, fake_upstream: FakeUpstream, semantic_search: FakeSemanticSearch
) -> None:
    semantic_search.chunks["ch-12"] = {"id": "ch-12", "text": "Token buckets refill at a rate."}
    calls = (("get_chunk", {"chunk_id": "ch-12"}), ("search_corpus", SEARCH_ARGUMENTS))
    fake_upstream.script(Turn(text=None, tool_calls=calls), ANSWER_TURN)
    completion = client.chat.completions.create(
        model="claude-sonnet-4-5-20250929",
        messages=QUESTION,
        tools=[SEARCH_BY_NAME, {"type": "function", "function": {"name": "get_chunk"}}],
    )
    assert completion.choices[0].message.content == ANSWER
    chunk, search = (json.loads(text) for text in tool_results(fake_upstream.requests[1]))
    assert chunk["text"] == "Token buckets refill at a rate."
    assert [hit["id"] for hit in search["results"]] == ["ch-12", "ch-7"]
    runs = extension(completion)["tool_runs"]
    assert sorted(run["name"] for run in runs) == ["get_chunk", "search_corpus"]
    assert all(run["success"] and run["round"] == 1 for run in runs)


def test_a_result_over_the_size_limit_reaches_the_model_truncated_with_a_marker(
    client: openai.OpenAI, fake_upstream: FakeUpstream, semantic_search: FakeSemanticSearch
) -> None:
    semantic_search.results[:] = [{"id": "big", "score": 0.9, "payload": {"text": "x" * 30_000}}]
    fake_upstream.script(CALL_SEARCH, ANSWER_TURN)
    completion = client.chat.completions.create(
        model="gpt-4o", messages=QUESTION, tools=[SEARCH_BY_NAME]
    )
    assert completion.choices[0].message.content == ANSWER
    [result] = tool_results(fake_upstream.requests[1])
    limit = Settings.model_fields["tool_max_result_chars"].default  # the gateway runs with it
    assert result.endswith(" characters shown]") and "[truncated by the gateway" in result
    assert len(result) < limit + 200


def test_arguments_breaking_the_schema_come_back_to_the_model_as_an_error(
    client: openai.OpenAI, fake_upstream: FakeUpstream, semantic_search: FakeSemanticSearch
) -> None:
    fake_upstream.script(
        Turn(text=None, tool_calls=(("search_corpus", {"top_k": 500}),)), ANSWER_TURN
    )
    completion = client.chat.completions.create(
        model="gpt-4o", messages=QUESTION, tools=[SEARCH_BY_NAME]
    )
    assert completion.choices[0].message.content == ANSWER
    [result] = tool_results(fake_upstream.requests[1])
    assert json.loads(result)["error"]["code"] == "invalid_tool_arguments"
    assert not semantic_search.requests


def test_the_gateway_option_offers_every_registered_tool(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(
        Turn(text=None, tool_calls=(("calculator", {"expression": "6 * 7"}),)), Turn(text="42.")
    )
    completion = client.chat.completions.create(
        model="claude-sonnet-4-5-20250929",
        messages=[{"role": "user", "content": "What is 6 times 7?"}],
        extra_body={"gateway": {"tools": "all"}},
    )
    assert completion.choices[0].message.content == "42."
    assert offered_tools(fake_upstream.requests[0]) == SCHEMAS
    [result] = tool_results(fake_upstream.requests[1])
    assert json.loads(result) == {"expression": "6 * 7", "result": 42}
    assert [run["name"] for run in extension(completion)["tool_runs"]] == ["calculator"]


# -- sessions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "stream"), [(vendor, False) for vendor in VENDORS] + [("anthropic", True)]
)
def test_a_session_records_the_whole_exchange(
    vendor: str,
    stream: bool,
    client: openai.OpenAI,
    tools_http: httpx.Client,
    fake_upstream: FakeUpstream,
) -> None:
    session_id = tools_http.post("/v1/sessions", json={}).json()["session_id"]
    fake_upstream.script(CALL_SEARCH, ANSWER_TURN)
    model = VENDOR_MODELS[vendor]
    ask(
        client,
        stream,
        model=model,
        messages=QUESTION,
        tools=[SEARCH_BY_NAME],
        extra_body={"session_id": session_id},
    )

    messages = tools_http.get(f"/v1/sessions/{session_id}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    question, calling, result, answer = messages
    assert question["content"] == QUESTION[0]["content"]
    [call] = calling["tool_calls"]
    assert call["function"]["name"] == "search_corpus"
    assert json.loads(call["function"]["arguments"]) == SEARCH_ARGUMENTS
    assert result["tool_call_id"] == call["id"]
    assert [hit["id"] for hit in json.loads(result["content"])["results"]] == ["ch-12", "ch-7"]
    assert answer["content"] == ANSWER and not answer.get("tool_calls")

    # The next turn sends the recorded exchange, tool result included, back to the model.
    fake_upstream.script(Turn(text="You're welcome."))
    follow_up = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Thanks!"}],
        tools=[SEARCH_BY_NAME],
        extra_body={"session_id": session_id},
    )
    assert follow_up.choices[0].message.content == "You're welcome."
    [replayed] = tool_results(fake_upstream.requests[-1])
    assert json.loads(replayed) == json.loads(result["content"])
